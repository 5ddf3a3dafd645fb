// The declarative schema: each manifest setting is declared once (key, type, default, range,
// help) beside the typed struct it fills. That one declaration drives parsing with YAML
// positions, defaults, validation with every problem collected, and the OpenAPI v3 schema of the
// CRDs (`dataflow crds`), so the engine and the CRDs cannot drift apart.
//
// Scalars follow the YAML 1.1 resolution Kubernetes and PyYAML use: an unquoted `5` is an integer,
// `"5"` is a string, `true`/`yes`/`on` are booleans, `~`/`null`/empty are null. A field declared as
// a string therefore rejects an unquoted number, exactly as `kubectl apply` would.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/config/diagnostics.h"

namespace dataflow::config {

// Where a YAML node sits: its node, its best position and its path from the document root.
// Copy-assignment rebinds the node handle: YAML::Node's own operator= would write the assigned
// value into the node it refers to, corrupting the document.
struct Site {
  Site(YAML::Node n, YAML::Mark m, std::string p, YAML::Mark o = YAML::Mark::null_mark())
      : node(n), mark(m), path(std::move(p)), owner(o.line < 0 ? m : o) {}
  Site(const Site&) = default;
  Site& operator=(const Site& other) {
    node.reset(other.node);
    mark = other.mark;
    path = other.path;
    owner = other.owner;
    return *this;
  }

  YAML::Node node;
  YAML::Mark mark;   // the value's position; for a null/empty value, its key's
  std::string path;  // e.g. spec.operations[0].sourceSettings
  YAML::Mark
      owner;  // the key this value belongs to (list item: the item), for whole-mapping errors

  // This site, positioned at its owning key: where "missing field" belongs.
  Site atOwner() const { return Site(node, owner, path, owner); }

  Site child(const YAML::Node& key, const YAML::Node& value) const;
  Site item(size_t index, const YAML::Node& value) const;
  // The site of the value under mapping key `name`, or this site when there is no such key.
  Site field(const std::string& name) const;
  // Like field(), positioned at the key itself: where "unknown" or "not allowed" belongs.
  Site key(const std::string& name) const { return field(name).atOwner(); }
};

// Per-document parse state. Not thread-safe; one per document being parsed.
class ParseContext {
 public:
  ParseContext(Diagnostics& diagnostics, std::string file)
      : diagnostics_(diagnostics), file_(std::move(file)) {}
  void error(const Site& at, std::string message);
  void warning(const Site& at, std::string message);
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diagnostics_; }

 private:
  Diagnostics& diagnostics_;
  std::string file_;
};

// How a scalar resolves, for type checks and for quoting a value back in a message.
enum class ScalarKind { Null, Bool, Int, Float, String, Map, Sequence };
ScalarKind classify(const YAML::Node& node);
std::string describe(const YAML::Node& node);  // `string "abc"`, `integer 5`, `a mapping`, ...
std::string joinNames(const std::vector<std::string>& names);  // "A, B, C"

// A type: how to parse a node into V and how to describe V in OpenAPI v3.
template <class V>
struct Type {
  // Returns false after reporting the problem to the context.
  std::function<bool(const Site&, ParseContext&, V&)> parse;
  std::function<nlohmann::json()> schema;
  std::function<nlohmann::json(const V&)> to_json;  // for `default:` in the schema
};

// ---- scalar types ----------------------------------------------------------------------------

struct StringRule {
  size_t min_length = 0;
  size_t max_length = 0;          // 0 = no limit
  std::string pattern = {};       // ECMAScript regex the whole value must match; "" = any
  std::string pattern_help = {};  // what the pattern means, for the error message
};
Type<std::string> string(StringRule rule = {});
Type<int64_t> integer(int64_t min, int64_t max);

template <class E>
struct EnumValue {
  std::string name;
  E value;
  std::string warning = {};  // accepted, but a warning is reported (e.g. kafkaAcks: None)
  std::string refusal = {};  // recognised but refused with this message; not in the schema enum
};

template <class E>
Type<E> enumeration(std::vector<EnumValue<E>> values) {
  auto shared = std::make_shared<const std::vector<EnumValue<E>>>(std::move(values));
  // The names offered in messages: refused values and those accepted only with a warning are
  // recognised but not suggested.
  auto offered = std::make_shared<std::vector<std::string>>();
  for (const auto& v : *shared) {
    if (v.refusal.empty() && v.warning.empty()) offered->push_back(v.name);
  }
  Type<E> t;
  t.parse = [shared, offered](const Site& at, ParseContext& ctx, E& out) {
    const std::vector<std::string>& names = *offered;
    if (classify(at.node) != ScalarKind::String) {
      ctx.error(at, "expected one of " + joinNames(names) + ", got " + describe(at.node));
      return false;
    }
    const std::string text = at.node.Scalar();
    for (const auto& v : *shared) {
      if (v.name == text) {
        if (!v.refusal.empty()) {
          ctx.error(at, "\"" + text + "\" " + v.refusal + "; expected one of " + joinNames(names));
          return false;
        }
        if (!v.warning.empty()) ctx.warning(at, v.warning);
        out = v.value;
        return true;
      }
    }
    std::string message = "\"" + text + "\" is not allowed; expected one of " + joinNames(names);
    if (std::string near = nearest(text, names); !near.empty()) {
      message += " (did you mean \"" + near + "\"?)";
    }
    ctx.error(at, message);
    return false;
  };
  t.schema = [shared]() {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& v : *shared) {
      if (v.refusal.empty()) names.push_back(v.name);
    }
    return nlohmann::json{{"type", "string"}, {"enum", names}};
  };
  t.to_json = [shared](const E& value) -> nlohmann::json {
    for (const auto& v : *shared) {
      if (v.value == value) return v.name;
    }
    return nullptr;
  };
  return t;
}

// ---- containers ----------------------------------------------------------------------------

template <class X>
Type<std::vector<X>> listOf(Type<X> item, size_t min_items = 0, size_t max_items = 0) {
  Type<std::vector<X>> t;
  t.parse = [item, min_items, max_items](const Site& at, ParseContext& ctx, std::vector<X>& out) {
    if (!at.node.IsSequence()) {
      ctx.error(at, "expected a list, got " + describe(at.node));
      return false;
    }
    bool ok = true;
    if (at.node.size() < min_items) {
      ctx.error(at, "expected at least " + std::to_string(min_items) + " item" +
                        (min_items == 1 ? "" : "s") + ", got " + std::to_string(at.node.size()));
      ok = false;
    }
    if (max_items > 0 && at.node.size() > max_items) {
      ctx.error(at, "expected at most " + std::to_string(max_items) + " item" +
                        (max_items == 1 ? "" : "s") + ", got " + std::to_string(at.node.size()));
      ok = false;
    }
    out.clear();
    out.reserve(at.node.size());
    for (size_t i = 0; i < at.node.size(); ++i) {
      X value{};
      if (item.parse(at.item(i, at.node[i]), ctx, value)) {
        out.push_back(std::move(value));
      } else {
        ok = false;
      }
    }
    return ok;
  };
  t.schema = [item, min_items, max_items]() {
    nlohmann::json s{{"type", "array"}, {"items", item.schema()}};
    if (min_items > 0) s["minItems"] = min_items;
    if (max_items > 0) s["maxItems"] = max_items;
    return s;
  };
  return t;
}

// A mapping of free-form string keys to string values (metadata labels and annotations).
Type<std::map<std::string, std::string>> stringMap();

// ---- objects --------------------------------------------------------------------------------

// One variant of a discriminated object: when the discriminator has `value`, the keys in
// `required` must be present and the keys in `forbidden` must be absent.
template <class E>
struct Variant {
  E value;
  std::vector<std::string> required;
  std::vector<std::string> forbidden;
};

template <class T>
class ObjectSpec {
 public:
  using Check = std::function<void(const Site&, ParseContext&, const T&)>;

  explicit ObjectSpec(std::string description) : description_(std::move(description)) {}

  template <class V>
  ObjectSpec& required(std::string key, V T::*member, Type<V> type, std::string help) {
    add(
        std::move(key), std::move(help), true, type.schema(), nullptr,
        [member, type](const Site& at, ParseContext& ctx, T& out) {
          return type.parse(at, ctx, out.*member);
        },
        nullptr);
    return *this;
  }

  template <class V>
  ObjectSpec& optional(std::string key, std::optional<V> T::*member, Type<V> type,
                       std::string help) {
    add(
        std::move(key), std::move(help), false, type.schema(), nullptr,
        [member, type](const Site& at, ParseContext& ctx, T& out) {
          V value{};
          if (!type.parse(at, ctx, value)) return false;
          out.*member = std::move(value);
          return true;
        },
        nullptr);
    return *this;
  }

  template <class V>
  ObjectSpec& withDefault(std::string key, V T::*member, Type<V> type, V fallback,
                          std::string help) {
    nlohmann::json default_json = type.to_json ? type.to_json(fallback) : nlohmann::json();
    add(
        std::move(key), std::move(help), false, type.schema(), default_json,
        [member, type](const Site& at, ParseContext& ctx, T& out) {
          return type.parse(at, ctx, out.*member);
        },
        [member, fallback](T& out) { out.*member = fallback; });
    return *this;
  }

  // A nested object that is optional in the manifest; when absent its own defaults apply.
  template <class V>
  ObjectSpec& defaultedObject(std::string key, V T::*member, const ObjectSpec<V>& spec,
                              std::string help) {
    Type<V> type = spec.type();
    add(
        std::move(key), std::move(help), false, type.schema(), nlohmann::json::object(),
        [member, type](const Site& at, ParseContext& ctx, T& out) {
          return type.parse(at, ctx, out.*member);
        },
        [member, spec](T& out) { out.*member = spec.defaults(); });
    return *this;
  }

  // A key that is read by a variant rule only (e.g. `anonymousSettings: {}`), with no field.
  ObjectSpec& marker(std::string key, const nlohmann::json& schema, std::string help) {
    add(
        std::move(key), std::move(help), false, schema, nullptr,
        [schema](const Site& at, ParseContext& ctx, T&) {
          if (!at.node.IsMap()) {
            ctx.error(at, "expected a mapping, got " + describe(at.node));
            return false;
          }
          if (at.node.size() != 0) {
            ctx.error(at, "expected an empty mapping {}");
            return false;
          }
          return true;
        },
        nullptr);
    return *this;
  }

  // Discriminated variants keyed by the enum field `discriminator` (already declared).
  template <class E>
  ObjectSpec& variants(std::string discriminator, E T::*member, Type<E> type,
                       std::vector<Variant<E>> list) {
    nlohmann::json one_of = nlohmann::json::array();
    for (const Variant<E>& v : list) {
      nlohmann::json branch{
          {"properties",
           {{discriminator, {{"enum", nlohmann::json::array({type.to_json(v.value)})}}}}}};
      if (!v.required.empty()) branch["required"] = v.required;
      if (!v.forbidden.empty()) {
        nlohmann::json any = nlohmann::json::array();
        for (const std::string& k : v.forbidden) any.push_back({{"required", {k}}});
        branch["not"] = {{"anyOf", any}};
      }
      one_of.push_back(branch);
    }
    schema_rules_.push_back({{"oneOf", one_of}});
    checks_.push_back(
        [discriminator, member, type, list](const Site& at, ParseContext& ctx, const T& out) {
          for (const Variant<E>& v : list) {
            if (v.value != out.*member) continue;
            const std::string name = type.to_json(v.value).template get<std::string>();
            for (const std::string& k : v.required) {
              if (!at.node[k]) {
                ctx.error(at.atOwner(), "missing required field \"" + k + "\" (required when " +
                                            discriminator + " is " + name + ")");
              }
            }
            for (const std::string& k : v.forbidden) {
              if (at.node[k]) {
                ctx.error(at.key(k), "not allowed when " + discriminator + " is " + name);
              }
            }
          }
        });
    return *this;
  }

  // A cross-field rule: `check` reports problems; `schema_rule` is its OpenAPI form (allOf item).
  ObjectSpec& rule(Check check, nlohmann::json schema_rule) {
    checks_.push_back(std::move(check));
    if (!schema_rule.is_null()) schema_rules_.push_back(std::move(schema_rule));
    return *this;
  }

  // A key that is accepted with any value and not read (e.g. `status`, written by controllers).
  ObjectSpec& ignored(std::string key, std::string help) {
    add(
        std::move(key), std::move(help), false,
        {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}, nullptr,
        [](const Site&, ParseContext&, T&) { return true; }, nullptr);
    return *this;
  }

  // Accept keys that are not declared (Kubernetes metadata carries many the engine ignores).
  ObjectSpec& allowUnknownKeys() {
    allow_unknown_ = true;
    return *this;
  }

  T defaults() const {
    T out{};
    for (const Field& f : fields_) {
      if (f.apply_default) f.apply_default(out);
    }
    return out;
  }

  bool parse(const Site& at, ParseContext& ctx, T& out) const {
    if (!at.node.IsMap()) {
      ctx.error(at, "expected a mapping, got " + describe(at.node));
      return false;
    }
    out = defaults();
    bool ok = true;
    std::map<std::string, int> seen;  // key -> line, for duplicate detection
    for (const auto& entry : at.node) {
      const YAML::Node& key = entry.first;
      Site value_site = at.child(key, entry.second);
      if (!key.IsScalar()) {
        ctx.error(value_site, "keys must be strings, got " + describe(key));
        ok = false;
        continue;
      }
      const std::string& name = key.Scalar();
      auto [prev, inserted] = seen.emplace(name, key.Mark().line + 1);
      if (!inserted) {
        ctx.error(value_site.atOwner(), "duplicate key \"" + name + "\" (first at line " +
                                            std::to_string(prev->second) + ")");
        ok = false;
        continue;
      }
      const Field* field = find(name);
      if (field == nullptr) {
        if (allow_unknown_) continue;
        std::vector<std::string> names;
        for (const Field& f : fields_) names.push_back(f.key);
        std::string message = "unknown field \"" + name + "\"";
        if (std::string near = nearest(name, names); !near.empty()) {
          message += "; did you mean \"" + near + "\"?";
        } else {
          message += "; expected one of " + joinNames(names);
        }
        ctx.error(value_site.atOwner(), message);
        ok = false;
        continue;
      }
      if (!field->parse(value_site, ctx, out)) ok = false;
    }
    for (const Field& f : fields_) {
      if (f.required && !seen.count(f.key)) {
        ctx.error(at.atOwner(), "missing required field \"" + f.key + "\"");
        ok = false;
      }
    }
    if (ok) {
      size_t before = ctx.diagnostics().errorCount();
      for (const Check& check : checks_) check(at, ctx, out);
      ok = ctx.diagnostics().errorCount() == before;
    }
    return ok;
  }

  nlohmann::json schema() const {
    nlohmann::json s{{"type", "object"}, {"description", description_}};
    nlohmann::json properties = nlohmann::json::object();
    nlohmann::json required = nlohmann::json::array();
    for (const Field& f : fields_) {
      nlohmann::json p = f.schema;
      p["description"] = f.help;
      if (!f.default_json.is_null()) p["default"] = f.default_json;
      properties[f.key] = p;
      if (f.required) required.push_back(f.key);
    }
    s["properties"] = properties;
    if (!required.empty()) s["required"] = required;
    if (!schema_rules_.empty()) s["allOf"] = schema_rules_;
    if (allow_unknown_) s["x-kubernetes-preserve-unknown-fields"] = true;
    return s;
  }

  Type<T> type() const {
    auto self = std::make_shared<const ObjectSpec<T>>(*this);
    Type<T> t;
    t.parse = [self](const Site& at, ParseContext& ctx, T& out) {
      return self->parse(at, ctx, out);
    };
    t.schema = [self]() { return self->schema(); };
    return t;
  }

 private:
  struct Field {
    std::string key;
    std::string help;
    bool required = false;
    nlohmann::json schema;
    nlohmann::json default_json;
    std::function<bool(const Site&, ParseContext&, T&)> parse;
    std::function<void(T&)> apply_default;
  };

  void add(std::string key, std::string help, bool required, nlohmann::json schema,
           nlohmann::json default_json, std::function<bool(const Site&, ParseContext&, T&)> parse,
           std::function<void(T&)> apply_default) {
    fields_.push_back(Field{std::move(key), std::move(help), required, std::move(schema),
                            std::move(default_json), std::move(parse), std::move(apply_default)});
  }

  const Field* find(const std::string& key) const {
    for (const Field& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }

  std::string description_;
  std::vector<Field> fields_;
  std::vector<Check> checks_;
  std::vector<nlohmann::json> schema_rules_;
  bool allow_unknown_ = false;
};

}  // namespace dataflow::config
