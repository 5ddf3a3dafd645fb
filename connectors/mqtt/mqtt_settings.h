// From an endpoint's mqttSettings to what the paho client needs: a pure mapping, decided once when
// the connector is created, with no network and no file reads beyond checking that the mounted
// Secret and ConfigMap keys exist. Paho reads the files themselves at every TLS connect, so a
// rotated certificate is picked up by the next reconnect.
//
// Where each mqttSettings field goes:
//   host, protocol, tls.mode       -> server_uri (tcp:// ssl:// ws:// wss://)
//   tls.trustedCaCertificateConfigMapRef -> tls->trust_store (rule in mapSettings below)
//   authentication                 -> tls->client_certificate / client_key, or a fatal refusal
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
#include <optional>
#include <string>

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
};

struct ClientSettings {
  std::string server_uri;  // e.g. "ssl://broker:8883" or "wss://host:443/mqtt"
  std::string client_id;
  std::optional<TlsFiles> tls;  // absent = plaintext
  std::chrono::seconds keep_alive{60};
  uint32_t session_expiry_seconds = 0;
  uint16_t receive_maximum = 65535;
  int subscription_qos = 1;
};

// Maps one endpoint's settings. Fatal when they can never work in this build:
//   - an authentication method other than Anonymous or X509Certificate;
//   - X509Certificate with tls.mode Disabled, or a secret lacking client_cert.pem/client_key.pem,
//     or one with client_intermediate_certs.pem (not sent yet: append the intermediates to
//     client_cert.pem, which OpenSSL reads as a chain);
//   - a trust ConfigMap that is missing, or has several keys and none named ca.crt (with one key,
//     that key is the bundle whatever its name);
//   - a /path in host with protocol Mqtt (a path only means something to WebSockets);
//   - qos outside 0..1, keepAliveSeconds/maxInflightMessages/sessionExpirySeconds out of range.
Result<ClientSettings> mapSettings(const config::MqttSettings& settings,
                                   const config::MountedFiles& files, std::string client_id);

// The paho connect options for `settings`: MQTT v5, Clean Start 0, keep alive, connect timeout,
// Session Expiry Interval and Receive Maximum properties, TLS with server certificate and host
// name verification. No automatic reconnect: the source runs its own loop.
::mqtt::connect_options toConnectOptions(const ClientSettings& settings);

}  // namespace dataflow::mqtt
