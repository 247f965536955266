// settings.hpp - the redis-store section: where Redis is, how to log in, and
// how long accounts are remembered. Pure: reading it does no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geopol {
class ConfigSection;
}

namespace geopol::redis_store {

inline constexpr int kDefaultPort = 6379;
inline constexpr int kDefaultSentinelPort = 26379;

/// One Redis server (or Sentinel): a TCP host and port, or a unix socket.
struct Endpoint {
    std::string host;  ///< IP address or DNS name; the socket path when unixSocket
    int port = 0;
    bool unixSocket = false;

    /// "127.0.0.1:6379", "[::1]:6379", "unix:/run/redis.sock": for logs.
    std::string text() const;
    bool operator==(const Endpoint &) const = default;
};

/// "host:port", "[v6]:port", or "host" (then `defaultPort`). Returns false
/// with `error` set when the text is not of that form.
bool parseHostPort(std::string_view text, int defaultPort, Endpoint &out, std::string &error);

/// A Redis address key as written by the user: "/path" or "unix:/path" is a
/// unix socket (the port is then ignored), anything else a host name or IP.
Endpoint makeEndpoint(std::string_view address, int port);

struct Settings {
    Endpoint master{"127.0.0.1", kDefaultPort};
    /// Where inspect() reads; equal to `master` unless a replica is configured.
    Endpoint replica{"127.0.0.1", kDefaultPort};
    std::string username, password;  ///< ACL user (Redis 6+) or just a password
    int64_t database = 0;
    std::string prefix = "geopol_";
    int64_t ttlSeconds = 3600;
    bool blockPermanent = false;

    /// Sentinel mode when non-empty: master and replica come from Sentinel.
    std::vector<Endpoint> sentinels;
    std::string sentinelMasterName, sentinelUsername, sentinelPassword;

    int64_t commandTimeoutMs = 500;
    int64_t connectTimeoutMs = 1000;
    int64_t reconnectBackoffMaxMs = 2000;

    bool useSentinel() const { return !sentinels.empty(); }
    bool separateReplica() const { return !useSentinel() && !(replica == master); }
};

/// Reads every key of the section; problems go to cfg.error() (and the
/// default is kept), so a bad section is refused as a whole by the core.
Settings readSettings(ConfigSection &cfg);

/// The Redis key holding `account`'s record: prefix + account, byte for byte
/// (the core already lower-cased the account; nothing else is changed so that
/// `GET geopol_<account>` finds it, as with the reference).
std::string accountKey(std::string_view prefix, std::string_view account);

}  // namespace geopol::redis_store
