// basic_auth.cpp
#include "basic_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace geopol::rest_admin {

Digest sha256(std::string_view data)
{
    Digest d;
    SHA256(reinterpret_cast<const unsigned char *>(data.data()), data.size(), d.data());
    return d;
}

bool constantTimeEqual(const void *a, const void *b, size_t size)
{
    // OpenSSL's compare is written so the compiler cannot shortcut it.
    return CRYPTO_memcmp(a, b, size) == 0;
}

std::optional<std::string> decodeBase64(std::string_view text)
{
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    if (text.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            if (c == '=') {
                // Padding only in the last group, and only at its end.
                if (i + 4 != text.size() || k < 2)
                    return std::nullopt;
                ++pad;
                v[k] = 0;
                continue;
            }
            if (pad)
                return std::nullopt;  // data after '='
            v[k] = value(c);
            if (v[k] < 0)
                return std::nullopt;
        }
        uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) |
                     uint32_t(v[3]);
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (pad < 2)
            out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1)
            out.push_back(static_cast<char>(n & 0xff));
    }
    return out;
}

std::optional<BasicCredentials> parseBasicAuthorization(std::string_view header)
{
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
            s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
            s.remove_suffix(1);
        return s;
    };
    header = trim(header);
    constexpr std::string_view kScheme = "basic";
    if (header.size() <= kScheme.size())
        return std::nullopt;
    for (size_t i = 0; i < kScheme.size(); ++i) {
        char c = header[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != kScheme[i])
            return std::nullopt;
    }
    if (header[kScheme.size()] != ' ' && header[kScheme.size()] != '\t')
        return std::nullopt;
    auto decoded = decodeBase64(trim(header.substr(kScheme.size())));
    if (!decoded)
        return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos)
        return std::nullopt;
    return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool CredentialCheck::accepts(std::string_view authorizationHeader) const
{
    auto given = parseBasicAuthorization(authorizationHeader);
    if (!given)
        return false;
    Digest user = sha256(given->user);
    Digest password = sha256(given->password);
    // Non-short-circuit '&': a right user with a wrong password takes as
    // long as a wrong user.
    bool userOk = constantTimeEqual(user.data(), user_.data(), user.size());
    bool passwordOk = constantTimeEqual(password.data(), password_.data(), password.size());
    return userOk & passwordOk;
}

}  // namespace geopol::rest_admin
