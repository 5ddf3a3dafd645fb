// The client certificate followed by its intermediate CA certificates, in one private file, for
// librdkafka 2.0.2 (ssl.certificate.location; its ssl.certificate.pem sends the first certificate
// only), which takes a single PEM file (the MQTT client loads the intermediates into OpenSSL in
// memory and needs none), and OpenSSL sends every certificate in
// it as the chain (SSL_CTX_use_certificate_chain_file), while an X509Certificate secret keeps the
// intermediates under a key of their own. The file lives in a directory only this user can read
// (0700, file 0600), is rewritten from the mounted secret before every connect (so a rotated secret
// is picked up), and is removed with this object.
#pragma once

#include <memory>
#include <string>

#include "engine/core/status.h"

namespace dataflow {

class ClientChainFile {
 public:
  // Creates the private directory under $TMPDIR (or /tmp). Fatal when it cannot.
  static Result<std::unique_ptr<ClientChainFile>> create();
  ~ClientChainFile();
  ClientChainFile(const ClientChainFile&) = delete;
  ClientChainFile& operator=(const ClientChainFile&) = delete;

  // Replaces the file's content with `certificate_path`'s, a newline, and
  // `intermediates_path`'s. Retriable when a source file cannot be read (it names the file).
  Status write(const std::string& certificate_path, const std::string& intermediates_path);
  const std::string& path() const { return path_; }

 private:
  explicit ClientChainFile(std::string directory);

  const std::string directory_;
  const std::string path_;
};

}  // namespace dataflow
