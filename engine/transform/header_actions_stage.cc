#include "engine/transform/header_actions_stage.h"

#include <algorithm>

namespace dataflow::transform {

namespace {

// Removes the properties named `name` from index `from` on, keeping the order of the others.
void removeNamed(std::vector<Property>& properties, const std::string& name, size_t from) {
  auto named = [&](const Property& property) { return property.name == name; };
  properties.erase(
      std::remove_if(properties.begin() + static_cast<ptrdiff_t>(from), properties.end(), named),
      properties.end());
}

}  // namespace

Outcome HeaderActionsStage::apply(Message& message, StageContext& /*context*/) const {
  std::vector<Property>& properties = message.properties;
  for (const HeaderAction& action : actions_) {
    auto first = std::find_if(properties.begin(), properties.end(), [&](const Property& property) {
      return property.name == action.key;
    });
    switch (action.type) {
      case HeaderActionType::AddIfNotPresent:
        if (first == properties.end()) properties.push_back(Property{action.key, action.value});
        break;
      case HeaderActionType::AddOrReplace:
        if (first == properties.end()) {
          properties.push_back(Property{action.key, action.value});
        } else {
          first->value = action.value;
          removeNamed(properties, action.key, static_cast<size_t>(first - properties.begin()) + 1);
        }
        break;
      case HeaderActionType::Remove:
        removeNamed(properties, action.key, static_cast<size_t>(first - properties.begin()));
        break;
    }
  }
  return Outcome::Forward;
}

}  // namespace dataflow::transform
