#include "engine/config/schema.h"

#include <cerrno>
#include <cstdlib>
#include <regex>

namespace dataflow::config {

namespace {

YAML::Mark bestMark(const YAML::Node& node, const YAML::Mark& fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  YAML::Mark m = node.Mark();
  return m.line < 0 ? fallback : m;
}

int oneBased(int zero_based) { return zero_based < 0 ? 0 : zero_based + 1; }

// Quotes a scalar for a message: at most 60 bytes, non-printable bytes as \xNN.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < 60; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 60) out += "...";
  return out + "\"";
}

const std::regex& nullPattern() {
  static const std::regex r("^(~|null|Null|NULL)?$");
  return r;
}
const std::regex& boolPattern() {
  static const std::regex r(
      "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$");
  return r;
}
const std::regex& intPattern() {
  static const std::regex r(
      "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*("
      ":[0-5]?[0-9])+)$");
  return r;
}
const std::regex& floatPattern() {
  static const std::regex r(
      "^([-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*"
      "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$");
  return r;
}

}  // namespace

Site Site::child(const YAML::Node& key, const YAML::Node& value) const {
  std::string key_text = key.IsScalar() ? key.Scalar() : std::string("?");
  return Site(value, bestMark(value, key.Mark()), path.empty() ? key_text : path + "." + key_text,
              key.Mark());
}

Site Site::item(size_t index, const YAML::Node& value) const {
  YAML::Mark at = bestMark(value, mark);
  return Site(value, at, path + "[" + std::to_string(index) + "]", at);
}

Site Site::field(const std::string& name) const {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && entry.first.Scalar() == name) {
        return child(entry.first, entry.second);
      }
    }
  }
  return *this;
}

void ParseContext::error(const Site& at, std::string message) {
  diagnostics_.error(file_, oneBased(at.mark.line), oneBased(at.mark.column), at.path,
                     std::move(message));
}

void ParseContext::warning(const Site& at, std::string message) {
  diagnostics_.warning(file_, oneBased(at.mark.line), oneBased(at.mark.column), at.path,
                       std::move(message));
}

ScalarKind classify(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return ScalarKind::Null;
  if (node.IsMap()) return ScalarKind::Map;
  if (node.IsSequence()) return ScalarKind::Sequence;
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return ScalarKind::String;
  if (tag == "tag:yaml.org,2002:int") return ScalarKind::Int;
  if (tag == "tag:yaml.org,2002:bool") return ScalarKind::Bool;
  if (tag == "tag:yaml.org,2002:float") return ScalarKind::Float;
  if (tag == "tag:yaml.org,2002:null") return ScalarKind::Null;
  const std::string& text = node.Scalar();
  if (text.size() > 64) return ScalarKind::String;  // no number or keyword is that long
  if (std::regex_match(text, nullPattern())) return ScalarKind::Null;
  if (std::regex_match(text, boolPattern())) return ScalarKind::Bool;
  if (std::regex_match(text, intPattern())) return ScalarKind::Int;
  if (std::regex_match(text, floatPattern())) return ScalarKind::Float;
  return ScalarKind::String;
}

std::string describe(const YAML::Node& node) {
  switch (classify(node)) {
    case ScalarKind::Null:
      return "null";
    case ScalarKind::Bool:
      return "boolean " + node.Scalar();
    case ScalarKind::Int:
      return "integer " + node.Scalar();
    case ScalarKind::Float:
      return "number " + node.Scalar();
    case ScalarKind::String:
      return "string " + quote(node.Scalar());
    case ScalarKind::Map:
      return "a mapping";
    case ScalarKind::Sequence:
      return "a list";
  }
  return "?";
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out;
}

Type<std::string> string(StringRule rule) {
  std::shared_ptr<const std::regex> pattern;
  if (!rule.pattern.empty()) pattern = std::make_shared<const std::regex>(rule.pattern);
  Type<std::string> t;
  t.parse = [rule, pattern](const Site& at, ParseContext& ctx, std::string& out) {
    if (classify(at.node) != ScalarKind::String) {
      ctx.error(at, "expected a string, got " + describe(at.node) +
                        (at.node.IsScalar() ? " (quote it to make it a string)" : ""));
      return false;
    }
    const std::string& text = at.node.Scalar();
    if (text.size() < rule.min_length) {
      ctx.error(at, rule.min_length == 1
                        ? std::string("must not be empty")
                        : "must be at least " + std::to_string(rule.min_length) + " characters");
      return false;
    }
    if (rule.max_length > 0 && text.size() > rule.max_length) {
      ctx.error(at, "must be at most " + std::to_string(rule.max_length) + " characters, got " +
                        std::to_string(text.size()));
      return false;
    }
    if (pattern && !std::regex_match(text, *pattern)) {
      ctx.error(at, describe(at.node) + " is not " + rule.pattern_help);
      return false;
    }
    out = text;
    return true;
  };
  t.schema = [rule]() {
    nlohmann::json s{{"type", "string"}};
    if (!rule.pattern.empty()) s["pattern"] = rule.pattern;
    if (rule.min_length > 0) s["minLength"] = rule.min_length;
    if (rule.max_length > 0) s["maxLength"] = rule.max_length;
    return s;
  };
  t.to_json = [](const std::string& v) { return nlohmann::json(v); };
  return t;
}

Type<int64_t> integer(int64_t min, int64_t max) {
  Type<int64_t> t;
  t.parse = [min, max](const Site& at, ParseContext& ctx, int64_t& out) {
    const std::string range =
        "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (classify(at.node) != ScalarKind::Int) {
      ctx.error(at, range + ", got " + describe(at.node));
      return false;
    }
    std::string digits;
    for (char c : at.node.Scalar()) {
      if (c != '_') digits.push_back(c);
    }
    if (digits.find(':') != std::string::npos) {
      ctx.error(at, range + ", got sexagesimal " + at.node.Scalar() + " (write it in decimal)");
      return false;
    }
    bool negative = !digits.empty() && digits[0] == '-';
    std::string body =
        (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) ? digits.substr(1) : digits;
    int base = 10;
    if (body.rfind("0x", 0) == 0) {
      base = 16;
      body = body.substr(2);
    } else if (body.rfind("0b", 0) == 0) {
      base = 2;
      body = body.substr(2);
    } else if (body.size() > 1 && body[0] == '0') {
      base = 8;
    }
    errno = 0;
    char* end = nullptr;
    unsigned long long magnitude = std::strtoull(body.c_str(), &end, base);
    bool overflow = errno == ERANGE || magnitude > static_cast<unsigned long long>(INT64_MAX);
    int64_t value = overflow ? 0 : static_cast<int64_t>(magnitude);
    if (negative) value = -value;
    if (overflow || value < min || value > max) {
      ctx.error(at, at.node.Scalar() + " is out of range; " + range);
      return false;
    }
    out = value;
    return true;
  };
  t.schema = [min, max]() {
    nlohmann::json s{{"type", "integer"}, {"minimum", min}, {"maximum", max}};
    if (max > INT32_MAX) s.erase("maximum");
    s["format"] = max > INT32_MAX ? "int64" : "int32";
    return s;
  };
  t.to_json = [](const int64_t& v) { return nlohmann::json(v); };
  return t;
}

Type<std::map<std::string, std::string>> stringMap() {
  Type<std::map<std::string, std::string>> t;
  t.parse = [](const Site& at, ParseContext& ctx, std::map<std::string, std::string>& out) {
    if (!at.node.IsMap()) {
      ctx.error(at, "expected a mapping of strings, got " + describe(at.node));
      return false;
    }
    bool ok = true;
    Type<std::string> value_type = string();
    for (const auto& entry : at.node) {
      Site value_site = at.child(entry.first, entry.second);
      std::string value;
      if (!entry.first.IsScalar()) {
        ctx.error(value_site, "keys must be strings");
        ok = false;
      } else if (value_type.parse(value_site, ctx, value)) {
        out[entry.first.Scalar()] = value;
      } else {
        ok = false;
      }
    }
    return ok;
  };
  t.schema = []() {
    return nlohmann::json{{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
  };
  return t;
}

}  // namespace dataflow::config
