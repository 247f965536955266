// ldap_connection.hpp - one libldap handle, used by one worker thread.
//
// Synchronous libldap calls, each bounded by the lookup's deadline through
// LDAP_OPT_NETWORK_TIMEOUT (TCP connect) and LDAP_OPT_TIMEOUT or the search's
// own time limit (every wait for a response). Those do not cover everything:
// libldap 2.5 waits without limit in the TLS handshake of ldaps:// (measured
// against a server that accepts and never answers). So the pool adds a hard
// stop: right after the TCP connect, libldap's connect callback hands the
// socket to a hook, and at the deadline the loop thread shuts it down, which
// ends any wait on it, handshake included.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "server_uri.hpp"
#include "settings.hpp"

struct ldap;  // LDAP, from <ldap.h>; kept out of this header
struct ldap_conncb;

namespace geopol::ldap_alias {

using Clock = std::chrono::steady_clock;

/// Values longer than this are not taken as an account key.
constexpr size_t kMaxValueLength = 512;
/// Entries asked for per search: enough to see that a result is ambiguous.
constexpr int kSizeLimit = 16;

struct SearchResult {
    enum class Status {
        Ok,              ///< answered; values may be empty (no such alias)
        ConnectionLost,  ///< the connection broke (server restarted, socket shut down)
        TimedOut,        ///< no answer before the deadline
        Failed,          ///< the server refused (filter error, busy, referral, ...)
    };
    Status status = Status::Failed;
    std::vector<std::string> values;  ///< every value of the result attribute, in server order
    size_t entries = 0;               ///< entries returned
    size_t skippedValues = 0;         ///< empty, too long, or with control characters
    std::string error;
};

class LdapConnection {
public:
    /// Called on the worker thread with the socket's descriptor as soon as
    /// the TCP connection stands (before any TLS handshake). The descriptor
    /// belongs to libldap: dup() it to keep it.
    using SocketHook = std::function<void(int fd)>;

    /// What libldap's connect callback reaches (through its lc_arg).
    struct SocketState {
        SocketHook hook;
        bool tcpConnected = false;  ///< this open() got as far as a TCP connection
    };

    explicit LdapConnection(const Settings &settings, SocketHook hook = {});
    ~LdapConnection();
    LdapConnection(const LdapConnection &) = delete;
    LdapConnection &operator=(const LdapConnection &) = delete;

    bool isOpen() const { return ld_ != nullptr; }
    const std::string &uri() const { return uri_; }

    /// Connects to `server`, runs StartTLS (ldap:// with starttls) and binds.
    /// On failure the handle is closed, `error` says which step failed and
    /// why, and `timedOut` tells a deadline from a refusal.
    bool open(const ServerUri &server, Clock::time_point deadline, std::string &error,
              bool &timedOut);

    /// One search for `filter` (already built and escaped).
    SearchResult search(const std::string &filter, Clock::time_point deadline);

    /// The socket's descriptor; -1 when closed.
    int fd() const;

    /// Unbinds (best effort) and frees the handle.
    void close();

private:
    std::string failure(const char *step, int rc) const;
    bool setTimeouts(Clock::time_point deadline);

    const Settings &settings_;
    SocketState socket_;
    ::ldap *ld_ = nullptr;
    ::ldap_conncb *callback_ = nullptr;  // must outlive the handle: libldap keeps the pointer
    std::string uri_;
};

}  // namespace geopol::ldap_alias
