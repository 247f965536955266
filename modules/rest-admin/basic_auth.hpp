// basic_auth.hpp - HTTP basic authentication: header parsing and a
// constant-time credential check.
//
// Credentials are kept only as SHA-256 digests, and a request's user and
// password are hashed before they are compared, so the compare takes the same
// time whatever the lengths or the first differing byte (the reference did
// the same). The clear-text password is never stored here, never logged.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace geopol::rest_admin {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data);

/// True when the two buffers are equal; the time taken depends only on `size`.
bool constantTimeEqual(const void *a, const void *b, size_t size);

/// Standard base64 (RFC 4648, with padding); nullopt for anything malformed.
std::optional<std::string> decodeBase64(std::string_view text);

struct BasicCredentials {
    std::string user;
    std::string password;
};

/// Parses an Authorization header value "Basic <base64(user:password)>". The
/// scheme is case-insensitive; the password may contain ':'.
std::optional<BasicCredentials> parseBasicAuthorization(std::string_view header);

/// The configured user and password, as digests.
class CredentialCheck {
public:
    CredentialCheck() = default;
    CredentialCheck(std::string_view user, std::string_view password)
        : user_(sha256(user)), password_(sha256(password))
    {
    }

    /// True when `authorizationHeader` carries exactly the configured user and
    /// password. Both digests are always compared (no early exit on the user).
    bool accepts(std::string_view authorizationHeader) const;

    bool operator==(const CredentialCheck &o) const
    {
        return user_ == o.user_ && password_ == o.password_;
    }

private:
    Digest user_{};
    Digest password_{};
};

/// The WWW-Authenticate value sent with every 401.
inline constexpr const char *kAuthenticateChallenge = "Basic realm=\"geopol\", charset=\"UTF-8\"";

}  // namespace geopol::rest_admin
