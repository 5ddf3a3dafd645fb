// parseServerUri, Target::authority and resolve of transport.h: where a connection goes.
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "connectors/mqtt/net/transport.h"
#include "connectors/mqtt/net/transport_stack.h"

namespace dataflow::mqtt::net {

namespace {

Status invalid(std::string_view uri, const std::string& why) {
  return Status::fatal("invalid server URI \"" + std::string(uri) + "\": " + why);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Target::authority() const {
  const std::string port_text = std::to_string(port);
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port_text
                                             : host + ":" + port_text;
}

Result<Target> parseServerUri(std::string_view uri) {
  const size_t separator = uri.find("://");
  if (separator == std::string_view::npos) {
    return invalid(uri, "expected SCHEME://HOST:PORT (tcp, mqtt, ssl, mqtts, tls, ws, wss)");
  }
  const std::string scheme = lower(uri.substr(0, separator));
  Target target;
  if (scheme == "tcp" || scheme == "mqtt") {
  } else if (scheme == "ssl" || scheme == "mqtts" || scheme == "tls") {
    target.tls = true;
  } else if (scheme == "ws") {
    target.websockets = true;
  } else if (scheme == "wss") {
    target.websockets = true;
    target.tls = true;
  } else {
    return invalid(
        uri, "unknown scheme \"" + scheme + "\" (expected tcp, mqtt, ssl, mqtts, tls, ws or wss)");
  }

  const std::string_view rest = uri.substr(separator + 3);
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (!target.websockets) {
      return invalid(uri, "a path is allowed only with ws:// and wss://");
    }
    target.path = std::string(rest.substr(slash));
  }
  if (authority.find('@') != std::string_view::npos) {
    return invalid(uri, "user information in the URI is not supported");
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid(uri, "unterminated IPv6 literal");
    target.host = std::string(authority.substr(1, close - 1));
    if (close + 1 >= authority.size() || authority[close + 1] != ':') {
      return invalid(uri, "a port is required ([IPv6]:PORT)");
    }
    port_text = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) return invalid(uri, "a port is required (HOST:PORT)");
    target.host = std::string(authority.substr(0, colon));
    if (target.host.find(':') != std::string::npos) {
      return invalid(uri, "an IPv6 address must be in brackets ([::1]:1883)");
    }
    port_text = authority.substr(colon + 1);
  }
  if (target.host.empty()) return invalid(uri, "the host is empty");
  if (port_text.empty() || port_text.size() > 5) {
    return invalid(uri, "the port must be a number from 1 to 65535");
  }
  unsigned port = 0;
  for (const char c : port_text) {
    if (c < '0' || c > '9') return invalid(uri, "the port must be a number from 1 to 65535");
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port < 1 || port > 65535) return invalid(uri, "the port must be a number from 1 to 65535");
  target.port = static_cast<uint16_t>(port);
  return target;
}

Result<std::vector<Address>> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    const std::string why = rc == EAI_SYSTEM ? errnoText(errno) : ::gai_strerror(rc);
    return Status::retriable("cannot resolve host " + host + ": " + why);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  std::vector<Address> addresses;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    char text[NI_MAXHOST];
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    const std::string numeric = text;
    address.text = a->ai_family == AF_INET6 ? "[" + numeric + "]:" + std::to_string(port)
                                            : numeric + ":" + std::to_string(port);
    addresses.push_back(std::move(address));
  }
  if (addresses.empty()) {
    return Status::retriable("cannot resolve host " + host + ": no TCP address");
  }
  return addresses;
}

}  // namespace dataflow::mqtt::net
