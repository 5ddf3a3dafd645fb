#include "connectors/mqtt/mqtt_settings.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "connectors/mqtt/managed_identity_credential.h"
#include "connectors/mqtt/service_account_token.h"

namespace dataflow::mqtt {

namespace {

using config::AuthMethod;
using config::MqttProtocol;
using config::OperationalMode;

Status checkRanges(const config::MqttSettings& s) {
  if (s.qos < 0 || s.qos > 1) {
    return Status::fatal("qos " + std::to_string(s.qos) + " is not supported; use 0 or 1");
  }
  if (s.keep_alive_seconds < 0 || s.keep_alive_seconds > 65535) {
    return Status::fatal("keepAliveSeconds must be from 0 to 65535");
  }
  if (s.max_inflight_messages < 1 || s.max_inflight_messages > 65535) {
    return Status::fatal("maxInflightMessages must be from 1 to 65535 (the MQTT Receive Maximum)");
  }
  if (s.session_expiry_seconds < 0 || s.session_expiry_seconds > 0xFFFFFFFFll) {
    return Status::fatal("sessionExpirySeconds must be from 0 to 4294967295");
  }
  return Status::ok();
}

// "tcp://", "ssl://", "ws://" or "wss://" + host. A path after host:port is for WebSockets only.
Result<std::string> serverUri(const config::MqttSettings& s) {
  const bool tls = s.tls.mode == OperationalMode::Enabled;
  const bool has_path = s.host.find('/') != std::string::npos;
  if (s.protocol == MqttProtocol::Mqtt) {
    if (has_path) {
      return Status::fatal("host \"" + s.host +
                           "\" has a path, which only protocol WebSockets uses; remove the path "
                           "or set protocol: WebSockets");
    }
    return std::string(tls ? "ssl://" : "tcp://") + s.host;
  }
  return std::string(tls ? "wss://" : "ws://") + s.host;
}

// The CA bundle file by MountedFiles' rule, shared with the Kafka connector.
Result<std::optional<std::string>> trustStore(const config::Tls& tls,
                                              const config::MountedFiles& files) {
  if (!tls.trusted_ca_certificate_config_map_ref) return std::optional<std::string>();
  Result<std::string> file = files.trustBundleFile(*tls.trusted_ca_certificate_config_map_ref);
  if (!file.isOk()) return file.status();
  return std::optional<std::string>(file.value());
}

Status x509Files(const config::Authentication& auth, const config::MountedFiles& files,
                 TlsFiles& tls) {
  if (!auth.x509) {
    return Status::fatal("authentication method X509Certificate needs x509CertificateSettings");
  }
  const std::string& secret = auth.x509->secret_ref;
  if (files.hasSecretKey(secret, kIntermediateCertificatesKey)) {
    tls.intermediate_certificates = files.secretPath(secret, kIntermediateCertificatesKey).value();
  }
  Result<std::string> certificate = files.secretPath(secret, kClientCertificateKey);
  if (!certificate.isOk()) return certificate.status();
  Result<std::string> key = files.secretPath(secret, kClientKeyKey);
  if (!key.isOk()) return key.status();
  tls.client_certificate = std::move(certificate).value();
  tls.client_key = std::move(key).value();
  return Status::ok();
}

Result<std::shared_ptr<CredentialSource>> serviceAccountToken(const config::Authentication& auth,
                                                              const config::MountedFiles& files) {
  if (!auth.service_account_token) {
    return Status::fatal(
        "authentication method ServiceAccountToken needs serviceAccountTokenSettings");
  }
  const std::string& audience = auth.service_account_token->audience;
  if (audience.empty() || audience.find('/') != std::string::npos || audience.front() == '.') {
    return Status::fatal("serviceAccountTokenSettings.audience \"" + audience +
                         "\" cannot name the token file in --sat-token-dir (it must be non-empty, "
                         "without \"/\" and not start with \".\")");
  }
  return std::shared_ptr<CredentialSource>(
      std::make_shared<ServiceAccountTokenSource>(files.tokenDirectory(), audience));
}

Status authentication(const config::Authentication& auth, const config::MountedFiles& files,
                      ClientSettings& out) {
  std::optional<TlsFiles>& tls = out.tls;
  switch (auth.method) {
    case AuthMethod::Anonymous:
      return Status::ok();
    case AuthMethod::X509Certificate:
      if (!tls) {
        return Status::fatal(
            "authentication method X509Certificate needs TLS; set tls.mode: Enabled");
      }
      return x509Files(auth, files, *tls);
    case AuthMethod::Sasl:
      return Status::fatal("authentication method Sasl is a Kafka mechanism, not allowed for MQTT");
    case AuthMethod::ServiceAccountToken: {
      Result<std::shared_ptr<CredentialSource>> source = serviceAccountToken(auth, files);
      if (!source.isOk()) return source.status();
      out.credentials = std::move(source).value();
      return Status::ok();
    }
    case AuthMethod::SystemAssignedManagedIdentity:
    case AuthMethod::UserAssignedManagedIdentity: {
      Result<std::shared_ptr<CredentialSource>> source = managedIdentityCredentials(auth);
      if (!source.isOk()) return source.status();
      out.credentials = std::move(source).value();
      return Status::ok();
    }
  }
  return Status::fatal(std::string("unknown authentication method ") +
                       config::toString(auth.method));
}

}  // namespace

Result<ClientSettings> mapSettings(const config::MqttSettings& settings,
                                   const config::MountedFiles& files, std::string client_id) {
  if (Status ranges = checkRanges(settings); !ranges.isOk()) return ranges;
  Result<std::string> uri = serverUri(settings);
  if (!uri.isOk()) return uri.status();

  ClientSettings out;
  out.server_uri = std::move(uri).value();
  out.client_id = std::move(client_id);
  if (settings.tls.mode == OperationalMode::Enabled) {
    Result<std::optional<std::string>> trust = trustStore(settings.tls, files);
    if (!trust.isOk()) return trust.status();
    out.tls.emplace();
    out.tls->trust_store = std::move(trust).value();
  }
  if (Status auth = authentication(settings.authentication, files, out); !auth.isOk()) {
    return auth;
  }
  out.keep_alive = std::chrono::seconds(settings.keep_alive_seconds);
  out.session_expiry_seconds = static_cast<uint32_t>(settings.session_expiry_seconds);
  out.receive_maximum = static_cast<uint16_t>(settings.max_inflight_messages);
  out.subscription_qos = static_cast<int>(settings.qos);
  return out;
}

wire::Connect connectPacket(const ClientSettings& settings, const Credential* credential) {
  wire::Connect connect;
  connect.client_id = settings.client_id;
  // Clean Start 0 resumes the broker's session, so QoS 1 messages queued while away arrive.
  connect.clean_start = false;
  connect.keep_alive_seconds = static_cast<uint16_t>(settings.keep_alive.count());
  connect.session_expiry_interval = settings.session_expiry_seconds;
  connect.receive_maximum = settings.receive_maximum;
  if (credential != nullptr) {
    connect.authentication_method = credential->method;
    connect.authentication_data = credential->data;
  }
  return connect;
}

}  // namespace dataflow::mqtt
