#include "engine/runtime/dataflow_model.h"

#include <yaml-cpp/yaml.h>

#include <map>

namespace dataflow::runtime {

namespace {

// Appends a canonical form of `node`: scalars quoted with their length (so no content can forge
// a delimiter), sequences in order, mappings by sorted key.
void canonical(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out += "~";
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      out += std::to_string(s.size()) + ":" + s;
      return;
    }
    case YAML::NodeType::Sequence:
      out += "[";
      for (const YAML::Node& item : node) {
        canonical(item, out);
        out += ",";
      }
      out += "]";
      return;
    case YAML::NodeType::Map: {
      std::map<std::string, std::string> entries;
      for (const auto& entry : node) {
        std::string key;
        canonical(entry.first, key);
        canonical(entry.second, entries[key]);
      }
      out += "{";
      for (const auto& [key, value] : entries) out += key + "=" + value + ",";
      out += "}";
      return;
    }
  }
}

void append(const config::Origin& origin, const std::string& name, std::string& out) {
  out += "name=" + std::to_string(name.size()) + ":" + name + " spec=";
  const YAML::Node& document = origin.document;
  canonical(document.IsMap() ? document["spec"] : YAML::Node(), out);
  out += "\n";
}

}  // namespace

std::string dataflowModel(const config::PlannedDataflow& planned) {
  std::string out;
  append(planned.dataflow->origin, planned.dataflow->metadata.name, out);
  append(planned.source->origin, planned.source->metadata.name, out);
  append(planned.destination->origin, planned.destination->metadata.name, out);
  out += "instanceCount=" + std::to_string(planned.profile->spec.instance_count) + "\n";
  return out;
}

}  // namespace dataflow::runtime
