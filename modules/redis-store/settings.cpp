// settings.cpp - reading and checking the redis-store section.
#include "settings.hpp"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "geopol/config.hpp"

namespace geopol::redis_store {

namespace {

constexpr int64_t kMaxTtlSeconds = int64_t{10} * 365 * 86400;  // as memory-store

bool parsePort(std::string_view text, int &port)
{
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 1 || v > 65535)
        return false;
    port = v;
    return true;
}

}  // namespace

std::string Endpoint::text() const
{
    if (unixSocket)
        return "unix:" + host;
    if (host.find(':') != std::string::npos)
        return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

bool parseHostPort(std::string_view text, int defaultPort, Endpoint &out, std::string &error)
{
    std::string_view host = text, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = "missing ']' after an IPv6 address";
            return false;
        }
        host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                error = "expected ':port' after ']'";
                return false;
            }
            port = rest.substr(1);
        }
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        if (text.find(':') != colon) {
            error = "an IPv6 address needs brackets: [2001:db8::1]:26379";
            return false;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (host.empty()) {
        error = "the host is empty";
        return false;
    }
    int p = defaultPort;
    if (!port.empty() && !parsePort(port, p)) {
        error = fmt::format("\"{}\" is not a port number (1-65535)", port);
        return false;
    }
    out = Endpoint{std::string(host), p, false};
    return true;
}

Endpoint makeEndpoint(std::string_view address, int port)
{
    if (address.rfind("unix:", 0) == 0)
        return Endpoint{std::string(address.substr(5)), 0, true};
    if (!address.empty() && address.front() == '/')
        return Endpoint{std::string(address), 0, true};
    // "[::1]" is accepted as well as "::1": people copy bracketed forms.
    if (address.size() > 2 && address.front() == '[' && address.back() == ']')
        address = address.substr(1, address.size() - 2);
    return Endpoint{std::string(address), port, false};
}

Settings readSettings(ConfigSection &cfg)
{
    Settings s;
    // Every key is read whatever the mode, so that none is reported as unknown.
    std::string address = cfg.getString("address", "127.0.0.1");
    int port = static_cast<int>(cfg.getInt("port", kDefaultPort, 1, 65535));
    if (address.empty() || address == "unix:")
        cfg.error("address", "must name a host, an IP address or a unix socket (/path)");
    s.master = makeEndpoint(address, port);

    // The reference defaulted the replica to 127.0.0.1:6379 whatever the
    // master was; here each half defaults to the master's.
    std::string replicaAddress = cfg.getString("replica-address", address);
    int replicaPort = static_cast<int>(cfg.getInt("replica-port", port, 1, 65535));
    if (replicaAddress.empty())
        replicaAddress = address;
    s.replica = makeEndpoint(replicaAddress, replicaPort);

    s.username = cfg.getString("username", "");
    s.password = cfg.getString("password", "");
    s.database = cfg.getInt("database", 0, 0, std::numeric_limits<int32_t>::max());
    s.prefix = cfg.getString("prefix", "geopol_");
    s.ttlSeconds = cfg.getInt("ttl", 3600, 1, kMaxTtlSeconds);
    s.blockPermanent = cfg.getBool("block-permanent", false);

    const std::vector<std::string> sentinels = cfg.getStringList("sentinels");
    for (const std::string &entry : sentinels) {
        Endpoint ep;
        std::string error;
        if (!parseHostPort(entry, kDefaultSentinelPort, ep, error))
            cfg.error("sentinels", fmt::format("\"{}\": {} (expected host:port)", entry, error));
        else
            s.sentinels.push_back(std::move(ep));
    }
    s.sentinelMasterName = cfg.getString("sentinel-master-name", "");
    s.sentinelUsername = cfg.getString("sentinel-username", "");
    s.sentinelPassword = cfg.getString("sentinel-password", "");
    if (!sentinels.empty() && s.sentinelMasterName.empty())
        cfg.error("sentinel-master-name",
                  "must be set when sentinels are given (the name Sentinel monitors, e.g. "
                  "mymaster)");
    if (sentinels.empty() && !s.sentinelMasterName.empty())
        cfg.error("sentinels",
                  "must list at least one Sentinel (host:port) when "
                  "sentinel-master-name is set");

    s.commandTimeoutMs = cfg.getDurationMs("command-timeout", 500, 10, 60000);
    s.connectTimeoutMs = cfg.getDurationMs("connect-timeout", 1000, 10, 60000);
    s.reconnectBackoffMaxMs = cfg.getDurationMs("reconnect-backoff-max", 2000, 100, 600000);
    return s;
}

std::string accountKey(std::string_view prefix, std::string_view account)
{
    std::string key;
    key.reserve(prefix.size() + account.size());
    key.append(prefix);
    key.append(account);
    return key;
}

}  // namespace geopol::redis_store
