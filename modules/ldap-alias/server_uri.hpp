// server_uri.hpp - the server-uris list: parsing, and the order in which a
// lookup tries the servers (failover).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geopol::ldap_alias {

enum class UriKind { Ldap, Ldaps, Ldapi };

struct ServerUri {
    std::string uri;  ///< as configured; handed to ldap_initialize() unchanged
    UriKind kind = UriKind::Ldap;
};

/// Splits every entry at commas and white space: GEOIPPOLICYD_LDAP_SERVER_URIS
/// is comma-separated, and a YAML entry "ldap://a/, ldap://b/" means two
/// servers. Empty pieces are dropped.
std::vector<std::string> splitUriList(const std::vector<std::string> &entries);

/// An ldap://, ldaps:// or ldapi:// URI that libldap can parse; nullopt with
/// `error` set otherwise. A DN or other parts after the host are ignored, as
/// the reference ignores them (base-dn says where to search).
std::optional<ServerUri> parseServerUri(std::string_view text, std::string &error);

/// Indices of `count` servers in the order one lookup tries them: `preferred`
/// first (the last one that worked), then the rest in configuration order,
/// wrapping around.
std::vector<size_t> failoverOrder(size_t count, size_t preferred);

const char *uriKindName(UriKind k);

}  // namespace geopol::ldap_alias
