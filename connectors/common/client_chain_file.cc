#include "connectors/common/client_chain_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dataflow {

namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::retriable("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return std::move(content).str();
}

}  // namespace

Result<std::unique_ptr<ClientChainFile>> ClientChainFile::create() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/dataflow-chain-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    return Status::fatal("cannot create a private directory for the client certificate chain (" +
                         pattern + "): " + std::strerror(errno));
  }
  return std::unique_ptr<ClientChainFile>(new ClientChainFile(pattern));
}

ClientChainFile::ClientChainFile(std::string directory)
    : directory_(std::move(directory)), path_(directory_ + "/client_chain.pem") {}

ClientChainFile::~ClientChainFile() {
  std::error_code ec;
  std::filesystem::remove_all(directory_, ec);
}

Status ClientChainFile::write(const std::string& certificate_path,
                              const std::string& intermediates_path) {
  Result<std::string> certificate = readFile(certificate_path);
  if (!certificate.isOk()) return certificate.status();
  Result<std::string> intermediates = readFile(intermediates_path);
  if (!intermediates.isOk()) return intermediates.status();
  std::string chain = std::move(certificate).value();
  if (!chain.empty() && chain.back() != '\n') chain += '\n';
  chain += intermediates.value();

  const std::string temporary = path_ + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::retriable("cannot write " + temporary + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < chain.size()) {
    const ssize_t n = ::write(fd, chain.data() + written, chain.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      return Status::retriable("cannot write " + temporary + ": " + error);
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    return Status::retriable("cannot replace " + path_ + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace dataflow
