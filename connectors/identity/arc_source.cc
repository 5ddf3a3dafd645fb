#include "connectors/identity/arc_source.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "connectors/identity/url.h"

namespace dataflow::identity {

namespace {
constexpr const char* kApiVersion = "2020-06-01";
constexpr std::string_view kRealmPrefix = "Basic realm=";
}  // namespace

Result<std::unique_ptr<TokenSource>> AzureArcSource::create(Options options) {
  if (Status s = checkEndpoint(options.identity_endpoint, "IDENTITY_ENDPOINT"); !s.isOk()) return s;
  return std::unique_ptr<TokenSource>(new AzureArcSource(std::move(options)));
}

Result<std::string> AzureArcSource::readChallengeKey(const HttpResponse& challenge) const {
  const std::string* header = challenge.header("WWW-Authenticate");
  const std::string what = describe() + ": the 401 challenge";
  if (!header || !header->starts_with(kRealmPrefix) ||
      header->find('=', kRealmPrefix.size()) != std::string::npos) {
    return Status::fatal(what + " has no WWW-Authenticate: Basic realm=<key file>");
  }
  std::string path = header->substr(kRealmPrefix.size());
  if (path.size() >= 2 && path.front() == '"' && path.back() == '"') {
    path = path.substr(1, path.size() - 2);
  }
  const std::filesystem::path file(path);
  if (!file.is_absolute() || file.lexically_normal() != file ||
      file.parent_path() != std::filesystem::path(options_.key_directory) ||
      file.extension() != ".key") {
    return Status::fatal(what + " names key file \"" + path + "\", which is not a .key file in " +
                         options_.key_directory);
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return Status::fatal(what + " names key file \"" + path + "\", which cannot be read");
  }
  if (static_cast<size_t>(info.st_size) > kArcMaxKeyBytes) {
    return Status::fatal(what + " names key file \"" + path + "\", which is larger than " +
                         std::to_string(kArcMaxKeyBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return Status::fatal(what + ": cannot read \"" + path + "\"");
  if (key.empty() || key.size() > kArcMaxKeyBytes) {
    return Status::fatal(what + " names key file \"" + path + "\", which is empty or too large");
  }
  return key;
}

Result<AccessToken> AzureArcSource::fetch(const std::string& scope) {
  HttpRequest request;
  request.url = options_.identity_endpoint +
                (options_.identity_endpoint.find('?') == std::string::npos ? "?" : "&") +
                "api-version=" + kApiVersion + "&resource=" + percentEncode(resourceOf(scope));
  request.headers.push_back({"Metadata", "true"});
  Result<HttpResponse> challenge = options_.http->send(request);
  if (!challenge.isOk()) return challenge.status();
  if (challenge.value().status != 401) {
    if (challenge.value().status == 200) {
      return Status::fatal(describe() + " answered without the 401 key-file challenge");
    }
    return httpFailure(describe(), challenge.value());
  }
  Result<std::string> key = readChallengeKey(challenge.value());
  if (!key.isOk()) return key.status();
  request.headers.push_back({"Authorization", "Basic " + key.value()});
  Result<HttpResponse> response = options_.http->send(request);
  if (!response.isOk()) return response.status();
  return readTokenResponse(describe(), response.value(), *options_.clock);
}

std::string AzureArcSource::describe() const {
  return "Azure Arc identity endpoint " + withoutQuery(options_.identity_endpoint);
}

}  // namespace dataflow::identity
