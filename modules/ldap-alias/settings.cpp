// settings.cpp
#include "settings.hpp"

#include <fmt/format.h>

#include <cctype>

#include "filter.hpp"
#include "geopol/action_text.hpp"
#include "geopol/config.hpp"

namespace geopol::ldap_alias {

namespace {

// The reference's default (--ldap-server-uri).
constexpr const char *kDefaultUri = "ldap://127.0.0.1:389/";

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// An attribute description (RFC 4512): a name or an OID, optionally with
// ";options". "*", "+" and "1.1" would ask for everything or nothing.
bool validAttributeDescription(std::string_view a)
{
    if (a.empty() || !std::isalnum(static_cast<unsigned char>(a.front())) || a == "1.1")
        return false;
    for (char c : a)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != ';')
            return false;
    return true;
}

}  // namespace

Settings readSettings(ConfigSection &cfg)
{
    Settings s;

    // Servers.
    std::vector<std::string> uris = splitUriList(cfg.getStringList("server-uris"));
    if (uris.empty()) {
        if (cfg.has("server-uris"))
            cfg.error("server-uris",
                      fmt::format("must list at least one server (default {})", kDefaultUri));
        uris.push_back(kDefaultUri);
    }
    for (const std::string &text : uris) {
        std::string error;
        if (auto uri = parseServerUri(text, error))
            s.servers.push_back(std::move(*uri));
        else
            cfg.error("server-uris", error);
    }

    // Search.
    s.baseDn = cfg.getString("base-dn", "");
    std::string rawFilter = cfg.getString("filter", s.filter);
    s.filter = normalizeFilterTemplate(rawFilter);
    if (auto problem = checkFilterTemplate(s.filter))
        cfg.error("filter", fmt::format("\"{}\" {}", rawFilter, *problem));
    s.resultAttribute = cfg.getString("result-attribute", s.resultAttribute);
    if (!validAttributeDescription(s.resultAttribute))
        cfg.error("result-attribute",
                  fmt::format("\"{}\" is not an attribute name (e.g. mailAccount, entryUUID, uid)",
                              s.resultAttribute));
    std::string scope = lower(cfg.getString("scope", "sub"));
    if (scope == "base")
        s.scope = Scope::Base;
    else if (scope == "one")
        s.scope = Scope::One;
    else if (scope == "sub")
        s.scope = Scope::Sub;
    else
        cfg.error("scope", fmt::format("\"{}\" must be base, one or sub", scope));

    // Authentication and TLS.
    s.bindDn = cfg.getString("bind-dn", "");
    s.bindPassword = cfg.getString("bind-password", "");
    s.saslExternal = cfg.getBool("sasl-external", false);
    s.startTls = cfg.getBool("starttls", false);
    s.tlsSkipVerify = cfg.getBool("tls-skip-verify", false);
    s.tlsCaFile = cfg.getPath("tls-ca-file", "");
    s.tlsClientCert = cfg.getPath("tls-client-cert", "");
    s.tlsClientKey = cfg.getPath("tls-client-key", "");
    if (s.saslExternal && !s.bindDn.empty())
        cfg.error("bind-dn",
                  "is set together with sasl-external; use one of them (SASL "
                  "EXTERNAL takes the identity from the client certificate or, "
                  "over ldapi://, from the process)");
    if (!s.bindDn.empty() && s.bindPassword.empty())
        cfg.error("bind-password",
                  "is empty although bind-dn is set (a simple bind without "
                  "password is an anonymous bind)");
    if (s.bindDn.empty() && !s.bindPassword.empty() && !s.saslExternal)
        cfg.error("bind-dn", "is empty although bind-password is set");
    if (s.tlsClientCert.empty() != s.tlsClientKey.empty())
        cfg.error(s.tlsClientCert.empty() ? "tls-client-cert" : "tls-client-key",
                  "tls-client-cert and tls-client-key go together");

    // Pool.
    s.idlePoolSize = static_cast<int>(cfg.getInt("idle-pool-size", s.idlePoolSize, 0, 256));
    s.poolSize = static_cast<int>(cfg.getInt("pool-size", s.poolSize, 1, 256));
    if (s.idlePoolSize > s.poolSize)
        cfg.error("idle-pool-size",
                  fmt::format("{} is larger than pool-size {}", s.idlePoolSize, s.poolSize));
    s.timeoutMs = cfg.getDurationMs("timeout", s.timeoutMs, 50, 60'000);

    // Cache.
    s.cacheTtlMs = cfg.getDurationMs("cache-ttl", s.cacheTtlMs, 0, 86'400'000);
    s.cacheNegativeTtlMs =
        cfg.getDurationMs("cache-negative-ttl", s.cacheNegativeTtlMs, 0, 86'400'000);
    s.cacheSize = static_cast<size_t>(
        cfg.getInt("cache-size", static_cast<int64_t>(s.cacheSize), 0, 10'000'000));

    // Outcomes.
    // What Postfix accepts (one line of UTF-8), without blanks around it:
    // smtpd takes the command up to the first blank, and a value with blanks
    // at either end was quoted by mistake.
    s.notFound = cfg.getString("not-found", s.notFound);
    if (s.notFound != "keep" &&
        (!validActionText(s.notFound) || s.notFound.front() == ' ' || s.notFound.back() == ' '))
        cfg.error("not-found",
                  "must be keep, or one line of UTF-8 text to answer (DUNNO, "
                  "REJECT <text>, DEFER <text>, ...)");
    std::string multiple = lower(cfg.getString("multiple-values", "first"));
    if (multiple == "first")
        s.multipleValues = MultipleValues::First;
    else if (multiple == "lowest")
        s.multipleValues = MultipleValues::Lowest;
    else if (multiple == "fail")
        s.multipleValues = MultipleValues::Fail;
    else
        cfg.error("multiple-values", fmt::format("\"{}\" must be first, lowest or fail", multiple));
    return s;
}

const char *scopeName(Scope s)
{
    switch (s) {
        case Scope::Base:
            return "base";
        case Scope::One:
            return "one";
        case Scope::Sub:
            return "sub";
    }
    return "sub";
}

const char *multipleValuesName(MultipleValues m)
{
    switch (m) {
        case MultipleValues::First:
            return "first";
        case MultipleValues::Lowest:
            return "lowest";
        case MultipleValues::Fail:
            return "fail";
    }
    return "first";
}

const char *bindModeName(BindMode b)
{
    switch (b) {
        case BindMode::Anonymous:
            return "anonymous";
        case BindMode::Simple:
            return "simple";
        case BindMode::SaslExternal:
            return "sasl-external";
    }
    return "anonymous";
}

}  // namespace geopol::ldap_alias
