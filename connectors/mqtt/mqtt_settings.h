// From an endpoint's mqttSettings to what our MQTT client (client/mqtt_client.h) needs: a pure
// mapping, decided once when the connector is created, with no network and no file reads beyond
// checking that the mounted Secret and ConfigMap keys exist. The client reads the files themselves
// at every TLS connect, so a rotated certificate is picked up by the next reconnect.
//
// Where each mqttSettings field goes:
//   host, protocol, tls.mode       -> server_uri (tcp:// ssl:// ws:// wss://; a /path after
//                                     host:port is the WebSocket request path, "/mqtt" when
//                                     absent)
//   tls.trustedCaCertificateConfigMapRef -> tls->trust_store (rule in mapSettings below)
//   authentication                 -> X509Certificate: tls->client_certificate / client_key /
//                                     intermediate_certificates; ServiceAccountToken: credentials
//                                     (K8S-SAT, ServiceAccountTokenSource); else a fatal refusal
//   keepAliveSeconds               -> keep_alive
//   sessionExpirySeconds           -> session_expiry_seconds (CONNECT Session Expiry Interval)
//   maxInflightMessages            -> receive_maximum (CONNECT Receive Maximum, source side)
//   qos                            -> subscription_qos
//   clientIdPrefix                 -> already folded into the client id by the runtime
//   retain, cloudEventAttributes   -> destination side only: applied by the transform stages
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "connectors/mqtt/mqtt_credential.h"
#include "connectors/mqtt/net/transport.h"
#include "connectors/mqtt/wire/codec.h"
#include "engine/config/manifest.h"
#include "engine/config/mounted_files.h"
#include "engine/core/status.h"

namespace dataflow::mqtt {

// Keys of an X509Certificate secret, as AIO documents them.
inline constexpr const char* kClientCertificateKey = "client_cert.pem";
inline constexpr const char* kClientKeyKey = "client_key.pem";
inline constexpr const char* kIntermediateCertificatesKey = "client_intermediate_certs.pem";

// How long one connect attempt may take: resolving, the TCP/TLS/WebSockets handshakes, CONNACK
// and SUBACKs.
inline constexpr std::chrono::seconds kConnectTimeout{10};

// Trust store, client certificate, key and intermediates: PEM file paths (net/transport.h).
using TlsFiles = net::TlsFiles;

struct ClientSettings {
  std::string endpoint;    // the DataflowEndpoint's name, for log lines
  std::string server_uri;  // e.g. "ssl://broker:8883" or "wss://host:443/mqtt"
  std::string client_id;
  std::optional<TlsFiles> tls;  // absent = plaintext
  std::chrono::seconds keep_alive{60};
  uint32_t session_expiry_seconds = 0;
  uint16_t receive_maximum = 65535;
  int subscription_qos = 1;
  // Authentication Method and Data for every CONNECT; null: none. Shared only so that settings
  // stay copyable; one connection uses it.
  std::shared_ptr<CredentialSource> credentials;
};

// Maps one endpoint's settings. Fatal when they can never work in this build:
//   - a managed identity (not wired to a token provider yet) or Sasl (a Kafka mechanism);
//   - X509Certificate with tls.mode Disabled, or a secret lacking client_cert.pem/client_key.pem
//     (client_intermediate_certs.pem is optional);
//   - ServiceAccountToken with an audience that cannot be a file name in files.tokenDirectory()
//     (empty, a "/", or a leading "."); the token file itself is read at each connect;
//   - a trust ConfigMap that is missing, or has several keys and none named ca.crt (with one key,
//     that key is the bundle whatever its name);
//   - a /path in host with protocol Mqtt (a path only means something to WebSockets);
//   - qos outside 0..1, keepAliveSeconds/maxInflightMessages/sessionExpirySeconds out of range.
Result<ClientSettings> mapSettings(const config::MqttSettings& settings,
                                   const config::MountedFiles& files, std::string client_id);

// The CONNECT for `settings`: MQTT v5, Clean Start 0, the client id, keep alive, Session Expiry
// Interval, Receive Maximum, and with a credential its Authentication Method and Data.
wire::Connect connectPacket(const ClientSettings& settings, const Credential* credential);

}  // namespace dataflow::mqtt
