// server_uri.cpp
#include "server_uri.hpp"

#include <ldap.h>

#include <cctype>

namespace geopol::ldap_alias {

std::vector<std::string> splitUriList(const std::vector<std::string> &entries)
{
    std::vector<std::string> out;
    for (const std::string &entry : entries) {
        std::string piece;
        for (char c : entry) {
            if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
                if (!piece.empty())
                    out.push_back(std::move(piece));
                piece.clear();
            } else {
                piece.push_back(c);
            }
        }
        if (!piece.empty())
            out.push_back(std::move(piece));
    }
    return out;
}

std::optional<ServerUri> parseServerUri(std::string_view text, std::string &error)
{
    std::string uri(text);
    LDAPURLDesc *desc = nullptr;
    int rc = ldap_url_parse(uri.c_str(), &desc);
    if (rc != LDAP_URL_SUCCESS || desc == nullptr) {
        if (desc)
            ldap_free_urldesc(desc);
        error = "\"" + uri +
                "\" is not an LDAP URI (expected ldap://host:port/, ldaps://host:port/ or "
                "ldapi://%2Fpath%2Fto%2Fsocket/)";
        return std::nullopt;
    }
    std::string scheme = desc->lud_scheme ? desc->lud_scheme : "";
    ldap_free_urldesc(desc);
    for (char &c : scheme)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ServerUri out;
    out.uri = std::move(uri);
    if (scheme == "ldap") {
        out.kind = UriKind::Ldap;
    } else if (scheme == "ldaps") {
        out.kind = UriKind::Ldaps;
    } else if (scheme == "ldapi") {
        out.kind = UriKind::Ldapi;
    } else {
        // libldap also parses cldap:// (UDP), which cannot carry a search.
        error = "\"" + out.uri + "\": scheme \"" + scheme +
                "\" is not supported (use ldap://, ldaps:// or ldapi://)";
        return std::nullopt;
    }
    return out;
}

std::vector<size_t> failoverOrder(size_t count, size_t preferred)
{
    std::vector<size_t> order;
    order.reserve(count);
    if (count == 0)
        return order;
    preferred %= count;
    for (size_t i = 0; i < count; ++i)
        order.push_back((preferred + i) % count);
    return order;
}

const char *uriKindName(UriKind k)
{
    switch (k) {
        case UriKind::Ldap:
            return "ldap";
        case UriKind::Ldaps:
            return "ldaps";
        case UriKind::Ldapi:
            return "ldapi";
    }
    return "ldap";
}

}  // namespace geopol::ldap_alias
