// Dataflow destination `headers[]`, applied last, in the configured order, to Message::properties
// (Kafka headers, or MQTT user properties; MQTT built-ins are not touched). Names match exactly.
//   AddIfNotPresent  append {key, value} unless a property named key exists.
//   AddOrReplace     set the first property named key to value and remove the other ones of that
//                    name; append {key, value} when there is none.
//   Remove           remove every property named key.
#pragma once

#include <utility>
#include <vector>

#include "engine/transform/options.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

class HeaderActionsStage final : public Stage {
 public:
  explicit HeaderActionsStage(std::vector<HeaderAction> actions) : actions_(std::move(actions)) {}
  std::string_view name() const override { return "header-actions"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  std::vector<HeaderAction> actions_;
};

}  // namespace dataflow::transform
