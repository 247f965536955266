// settings.hpp - the ldap-alias section, read and validated once per
// configuration load. Immutable afterwards: the worker threads get a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server_uri.hpp"

namespace geopol {
class ConfigSection;
}

namespace geopol::ldap_alias {

enum class Scope { Base, One, Sub };

/// What to do when the result attribute has more than one distinct value
/// (several values on one entry, or several entries).
enum class MultipleValues {
    First,   ///< the first value in the server's answer (the reference's choice)
    Lowest,  ///< the lowest value in byte order: stable whatever order the server returns
    Fail,    ///< fail the request: the directory is ambiguous
};

enum class BindMode { Anonymous, Simple, SaslExternal };

struct Settings {
    std::vector<ServerUri> servers;  ///< in failover order; never empty after readSettings()
    std::string baseDn;
    std::string bindDn;
    std::string bindPassword;
    std::string filter = "(&(objectClass=*)(mailAlias=%s))";  ///< template, newlines removed
    std::string resultAttribute = "mailAccount";
    bool startTls = false;
    bool tlsSkipVerify = false;
    std::string tlsCaFile;
    std::string tlsClientCert;
    std::string tlsClientKey;
    bool saslExternal = false;
    Scope scope = Scope::Sub;
    int idlePoolSize = 3;
    int poolSize = 10;
    int64_t timeoutMs = 1500;             ///< per lookup, connect + bind + search
    int64_t cacheTtlMs = 300'000;         ///< found accounts
    int64_t cacheNegativeTtlMs = 60'000;  ///< "no such alias"
    size_t cacheSize = 10'000;            ///< entries; 0 turns the cache off
    std::string notFound = "keep";        ///< "keep", or the action to answer
    MultipleValues multipleValues = MultipleValues::First;

    bool keepWhenNotFound() const { return notFound == "keep"; }
    BindMode bindMode() const
    {
        return saslExternal     ? BindMode::SaslExternal
               : bindDn.empty() ? BindMode::Anonymous
                                : BindMode::Simple;
    }
    bool cacheEnabled() const
    {
        return cacheSize > 0 && (cacheTtlMs > 0 || cacheNegativeTtlMs > 0);
    }
};

/// Reads the section. Every problem is reported through cfg.error(), naming
/// the key; the returned settings are then not to be used.
Settings readSettings(ConfigSection &cfg);

const char *scopeName(Scope s);
const char *multipleValuesName(MultipleValues m);
const char *bindModeName(BindMode b);

}  // namespace geopol::ldap_alias
