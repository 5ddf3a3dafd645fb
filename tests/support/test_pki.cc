#include "tests/support/test_pki.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.h"

namespace dataflow::testing {

namespace {

constexpr const char* kDays = "30";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string serialNumber() {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::to_string((static_cast<uint64_t>(now) % 1'000'000'000ULL) * 1000 +
                        counter.fetch_add(1) % 1000 + 1);
}

std::string subjectAltName(const TestPki::Leaf& leaf) {
  std::string out;
  for (const std::string& name : leaf.dns_names) out += (out.empty() ? "" : ",") + ("DNS:" + name);
  for (const std::string& ip : leaf.ip_addresses) out += (out.empty() ? "" : ",") + ("IP:" + ip);
  return out;
}

}  // namespace

TestPki::TestPki(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {
  ca_ = {path("ca.pem"), path("ca.key"), path("ca.pem")};
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", ca_.key, "-out", ca_.cert, "-subj", "/CN=" + name_ + " Root CA", "-days",
           kDays, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
  intermediate_ = {path("intermediate.pem"), path("intermediate.key"), path("intermediate.pem")};
  const std::string csr = path("intermediate.csr");
  const std::string extensions = path("intermediate.ext");
  writeFile(extensions,
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n");
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           intermediate_.key, "-out", csr, "-subj", "/CN=" + name_ + " Intermediate CA"});
  openssl({"x509", "-req", "-in", csr, "-CA", ca_.cert, "-CAkey", ca_.key, "-set_serial",
           serialNumber(), "-days", kDays, "-extfile", extensions, "-out", intermediate_.cert});
}

std::string TestPki::path(const std::string& file) const { return dir_ + "/" + name_ + "-" + file; }

void TestPki::openssl(std::vector<std::string> arguments) const {
  arguments.insert(arguments.begin(), "openssl");
  const std::string log = path("openssl.log");
  ChildProcess process(arguments, log);
  const std::optional<int> code = process.wait(std::chrono::seconds(30));
  if (code != 0) {
    std::string command;
    for (const std::string& a : arguments) command += a + " ";
    throw std::runtime_error("test PKI: `" + command + "` failed: " + process.log());
  }
}

TestCertificate TestPki::issue(const std::string& stem, const Leaf& leaf) const {
  const TestCertificate& issuer = leaf.via_intermediate ? intermediate_ : ca_;
  TestCertificate out{path(stem + ".pem"), path(stem + ".key"), path(stem + ".chain.pem")};
  const std::string csr = path(stem + ".csr");
  const std::string extensions = path(stem + ".ext");
  std::string ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n";
  ext += leaf.usage == Usage::Server ? "extendedKeyUsage=serverAuth\n"
                                     : "extendedKeyUsage=clientAuth\n";
  const std::string san = subjectAltName(leaf);
  if (!san.empty()) ext += "subjectAltName=" + san + "\n";
  writeFile(extensions, ext);
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           out.key, "-out", csr, "-subj", "/CN=" + leaf.common_name});
  // -days -1 puts notAfter a day before notBefore (now): expired from the start.
  openssl({"x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key, "-set_serial",
           serialNumber(), "-days", leaf.expired ? "-1" : kDays, "-extfile", extensions, "-out",
           out.cert});
  std::string chain = readFile(out.cert);
  if (leaf.via_intermediate) chain += readFile(intermediate_.cert);
  writeFile(out.chain, chain);
  return out;
}

TestCertificate TestPki::server() const {
  return issue("server", {"localhost", {"localhost"}, {"127.0.0.1"}, Usage::Server});
}

TestCertificate TestPki::serverViaIntermediate() const {
  Leaf leaf{"localhost", {"localhost"}, {"127.0.0.1"}, Usage::Server};
  leaf.via_intermediate = true;
  return issue("server-via-intermediate", leaf);
}

TestCertificate TestPki::expiredServer() const {
  Leaf leaf{"localhost", {"localhost"}, {"127.0.0.1"}, Usage::Server};
  leaf.expired = true;
  return issue("server-expired", leaf);
}

TestCertificate TestPki::wrongHostServer() const {
  return issue("server-wrong-host", {"wrong-host.invalid", {"wrong-host.invalid"}, {}});
}

TestCertificate TestPki::client(const std::string& common_name) const {
  return issue("client-" + common_name, {common_name, {}, {}, Usage::Client});
}

}  // namespace dataflow::testing
