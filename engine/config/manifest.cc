#include "engine/config/manifest.h"

namespace dataflow::config {

const char* toString(EndpointType t) {
  switch (t) {
    case EndpointType::Kafka:
      return "Kafka";
    case EndpointType::Mqtt:
      return "Mqtt";
  }
  return "?";
}

const char* toString(AuthMethod m) {
  switch (m) {
    case AuthMethod::SystemAssignedManagedIdentity:
      return "SystemAssignedManagedIdentity";
    case AuthMethod::UserAssignedManagedIdentity:
      return "UserAssignedManagedIdentity";
    case AuthMethod::Sasl:
      return "Sasl";
    case AuthMethod::X509Certificate:
      return "X509Certificate";
    case AuthMethod::ServiceAccountToken:
      return "ServiceAccountToken";
    case AuthMethod::Anonymous:
      return "Anonymous";
  }
  return "?";
}

}  // namespace dataflow::config
