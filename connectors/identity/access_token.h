// An access token and the parsing of the token responses of IMDS, Azure Arc and Entra ID.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace dataflow::identity {

// A bearer token. `token` is a secret: it is never logged, never put in a Status, and never
// compared in a way that a log line could reveal.
struct AccessToken {
  std::string token;
  int64_t expires_on_ms = 0;             // wall clock, ms since the Unix epoch
  std::optional<int64_t> refresh_on_ms;  // the server's refresh_in hint, made absolute
  std::string principal;                 // the JWT's oid, else sub, else kUnknownPrincipal
};

// The principal named when a token is not a JWT or has neither oid nor sub. Never empty:
// librdkafka strdup()s the principal without a null check.
inline constexpr std::string_view kUnknownPrincipal = "managed-identity";

// Parses a 200 response body (the form IMDS, Arc and Entra v2 share, as the Azure C++ SDK reads
// it): access_token (required); refresh_in; then expires_in (number or numeric string) or, if
// absent, expires_on (epoch seconds as number or numeric string, RFC 3339, or RFC 1123).
// `now_ms` is the wall clock when the response arrived. The error text never quotes the body.
Result<AccessToken> parseTokenResponse(std::string_view body, int64_t now_ms);

// The `error: error_description` of an OAuth error body (RFC 6749 §5.2, IMDS), or "" when the
// body is not one. Safe to log: error bodies carry no token.
std::string describeErrorBody(std::string_view body);

// The principal of a JWT-shaped token: its payload's oid, else sub, else kUnknownPrincipal.
std::string principalOf(std::string_view token);
// The claims of a JWT (header.payload.signature, base64url): its payload as a JSON object, or
// nullopt when `token` is not a JWT with one. The signature is not checked (the server does that).
std::optional<nlohmann::json> jwtClaims(std::string_view token);

// Epoch seconds of an RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed) or
// RFC 1123 ("Wed, 01 May 2024 10:00:00 GMT") time, or nullopt.
std::optional<int64_t> parseHttpOrIsoTime(std::string_view text);

}  // namespace dataflow::identity
