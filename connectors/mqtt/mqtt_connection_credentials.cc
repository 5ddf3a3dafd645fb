// MqttConnection's credentials and failure texts: what goes into each CONNECT besides the
// connect options (the client chain file, the Authentication Method and Data), when a changed
// credential calls for a reconnect, and the TLS cause added to a logged connect failure. Split
// from mqtt_connection.cc to keep each file to one concern; connection thread only.
#include <spdlog/spdlog.h>

#include "connectors/mqtt/mqtt_connection.h"
#include "connectors/mqtt/tls_diagnosis.h"

namespace dataflow::mqtt {

namespace {

constexpr std::chrono::milliseconds kDiagnosisTimeout{2000};

}  // namespace

// The chain file and the credential for the next CONNECT. Retriable naming the endpoint and the
// file or provider (never a credential) when one cannot be read.
Status MqttConnection::prepareConnect() {
  if (chain_file_) {
    Status written = chain_file_->write(settings_.tls->client_certificate.value_or(""),
                                        *settings_.tls->intermediate_certificates);
    if (!written.isOk()) return Status::retriable(label() + ": " + written.message());
  }
  if (!settings_.credentials) return Status::ok();
  {
    std::lock_guard lock(mutex_);
    credential_changed_ = false;  // what is fetched now is the newest
  }
  Result<Credential> credential = settings_.credentials->fetch();
  if (!credential.isOk()) {
    last_connect_auth_failed_ = true;  // no credential to authenticate with
    return Status::retriable(label() + ": " + credential.status().message());
  }
  connect_options_.set_properties(connectProperties(settings_, &credential.value()));
  credential_data_ = std::move(credential.value().data);
  renew_at_ = credential.value().renew_at;
  // A renewal time already past would reconnect at once, again and again: ignored.
  if (renew_at_ && *renew_at_ <= std::chrono::system_clock::now()) renew_at_.reset();
  return Status::ok();
}

// After the source reported a change: whether the credential now differs from the one the
// connection sent. A failed fetch keeps the connection (its credential may still be valid) and
// is logged; the next CONNECT reports it again if it persists.
bool MqttConnection::credentialDiffers() {
  Result<Credential> credential = settings_.credentials->fetch();
  if (!credential.isOk()) {
    logger_->warn("MQTT {}: {}: {}; keeping the current connection", role_, label(),
                  credential.status().message());
    return false;
  }
  return credential.value().data != credential_data_;
}

// While connected: waits for a loss, pause, stop, or a credential to renew.
MqttConnection::Wake MqttConnection::waitWhileUp() {
  while (true) {
    const Wake wake = waitForLossPauseOrStop();
    if (wake != Wake::CredentialChanged || credentialDiffers()) return wake;
  }
}

std::string MqttConnection::label() const {
  if (settings_.endpoint.empty()) return settings_.server_uri;
  return "endpoint \"" + settings_.endpoint + "\" (" + settings_.server_uri + ")";
}

// `failure`, followed by the TLS cause when a TLS connect got no CONNACK.
std::string MqttConnection::withDiagnosis(const std::string& failure) const {
  std::string host;
  int port = 0;
  if (!settings_.tls || !last_connect_without_connack_ ||
      !tlsHostPort(settings_.server_uri, host, port)) {
    return failure;
  }
  const std::string cause = diagnoseTls(host, port, *settings_.tls, kDiagnosisTimeout);
  return cause.empty() ? failure : failure + ": " + cause;
}

}  // namespace dataflow::mqtt
