// From an endpoint's mqttSettings to what the paho client needs: a pure mapping, decided once when
// the connector is created, with no network and no file reads beyond checking that the mounted
// Secret and ConfigMap keys exist. Paho reads the files themselves at every TLS connect, so a
// rotated certificate is picked up by the next reconnect.
//
// Where each mqttSettings field goes:
//   host, protocol, tls.mode       -> server_uri (tcp:// ssl:// ws:// wss://; a /path after
//                                     host:port is the WebSocket request path). Known limit of
//                                     paho.mqtt.c 1.3.12 over WebSockets: when a broker packs
//                                     several MQTT packets into one WebSocket frame (MQTT 6.0.0-2
//                                     allows it), paho loses all but the first. Brokers that send
//                                     one packet per frame (mosquitto's WebSockets listener) work;
//                                     mqtt_websockets_test.cc runs against such a proxy.
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

#include <mqtt/connect_options.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "connectors/mqtt/mqtt_credential.h"
#include "engine/config/manifest.h"
#include "engine/config/mounted_files.h"
#include "engine/core/status.h"

namespace dataflow::mqtt {

// Keys of an X509Certificate secret, as AIO documents them.
inline constexpr const char* kClientCertificateKey = "client_cert.pem";
inline constexpr const char* kClientKeyKey = "client_key.pem";
inline constexpr const char* kIntermediateCertificatesKey = "client_intermediate_certs.pem";

// How long paho waits for the TCP/TLS/WebSockets handshake and the CONNACK of one attempt.
inline constexpr std::chrono::seconds kConnectTimeout{10};

struct TlsFiles {
  std::optional<std::string> trust_store;  // PEM CA bundle; absent = the system's trust store
  std::optional<std::string> client_certificate;  // PEM certificate (chain) for mutual TLS
  std::optional<std::string> client_key;          // PEM private key, not password protected
  // PEM intermediate CA certificates sent after client_certificate (MqttConnection joins the two
  // in a ClientChainFile before each connect).
  std::optional<std::string> intermediate_certificates;
};

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

// The paho connect options for `settings`: MQTT v5, Clean Start 0, keep alive, connect timeout,
// connectProperties(settings, nullptr), TLS with server certificate and host name verification
// (never turned off). `key_store`, when given, replaces tls->client_certificate as the PEM file of
// the certificate chain (a ClientChainFile). No automatic reconnect: the source runs its own loop.
::mqtt::connect_options toConnectOptions(const ClientSettings& settings,
                                         const std::optional<std::string>& key_store = {});

// The CONNECT properties: Session Expiry Interval, Receive Maximum, and with a credential its
// Authentication Method and Authentication Data.
::mqtt::properties connectProperties(const ClientSettings& settings, const Credential* credential);

}  // namespace dataflow::mqtt
