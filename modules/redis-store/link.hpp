// link.hpp - one connection to one Redis server (the master, a replica or a
// Sentinel), kept alive on the daemon's libuv loop.
//
// hiredis' async context does the protocol; a libuv adapter (uv_adapter.hpp,
// hiredis' own design with a fix 0.14.1 lacks) watches the socket.
// Everything else the 0.14 adapter lacks is here:
//  * deadlines: one uv_timer_t per link, armed for the earliest deadline of
//    the commands in flight or waiting; a command that misses its deadline
//    fails and takes the connection down with it (a server that stopped
//    answering is assumed hung; its later replies would be out of date);
//  * connecting: the address comes from a Locator (DNS resolved off the
//    loop, or asked from Sentinel); the TCP connect and the handshake (AUTH,
//    SELECT, ROLE, SCRIPT LOAD, PING) must finish within connect-timeout;
//  * reconnecting: a connection that worked (for a second at least) is
//    retried at once, and the commands that were in flight are sent again on
//    the new connection if their deadline allows; after that, attempts are
//    spaced by an exponential backoff, and commands fail at once until one
//    succeeds.
//
// A link never calls hiredis from inside hiredis' connect or disconnect
// callbacks, and never runs a command's callback while its own state is
// half-changed, so a callback may submit new commands (or stop the store).
#pragma once

#include <hiredis/async.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "backoff.hpp"
#include "command.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::redis_store {

/// Reports where to connect: ok with a numeric address (or a socket path),
/// or not ok with a reason. May be called before the Locator returns.
using LocateDone = std::function<void(bool ok, const Endpoint &where, const std::string &error)>;
using Locator = std::function<void(LocateDone)>;

struct LinkOptions {
    std::string role;  ///< "master", "replica", "sentinel", "sentinel-events": for logs
    std::string username, password;
    int64_t database = 0;
    bool requireMaster = false;  ///< ROLE must say master, else try again later
    bool loadScripts = false;    ///< SCRIPT LOAD at connect (warms the cache, checks Lua)
    uint64_t commandTimeoutMs = 500;
    uint64_t connectTimeoutMs = 1000;
    uint64_t backoffMaxMs = 2000;
    std::string ttlText = "3600";  ///< ARGV[1] of the scripts
    bool blockPermanent = false;
};

class Link {
public:
    enum class State : uint8_t {
        Idle,          ///< not started
        Reconnecting,  ///< a new attempt starts on the next loop turn
        Locating,      ///< asking DNS or Sentinel where to connect
        Connecting,    ///< TCP/unix connect, then the handshake
        Ready,         ///< commands are sent as they come
        Backoff,       ///< waiting before the next attempt; commands fail at once
        Closed,
    };

    Link(uv_loop_t *loop, std::shared_ptr<spdlog::logger> log, LinkOptions options, Locator locator,
         std::function<void()> onClosed);
    ~Link();
    Link(const Link &) = delete;
    Link &operator=(const Link &) = delete;

    void start();

    /// Sends `cmd` (taking ownership), queues it while a connection attempt
    /// is under way, or fails it at once while the server is unreachable.
    /// Its deadline is now + command-timeout unless already set.
    void submit(Command *cmd);

    /// Drops the connection and connects again at once, e.g. because Sentinel
    /// announced a new master. Commands in flight are sent again.
    void reconnect(std::string_view why);

    /// Fails every command, frees the connection and closes the timer;
    /// `onClosed` runs from the timer's close callback.
    void close();

    /// Subscribes to `channel` on every (re)connect; the link then takes no
    /// other commands. `onMessage` gets each message's payload.
    void subscribe(std::string channel, std::function<void(std::string_view)> onMessage);

    State state() const { return state_; }
    bool ready() const { return state_ == State::Ready; }
    /// The server of the current or last connection.
    const Endpoint &endpoint() const { return endpoint_; }
    const std::string &role() const { return options_.role; }
    /// Commands failed because the server was unreachable, since start.
    uint64_t failedWhileDown() const { return failedWhileDown_; }

private:
    static void onConnectCb(const redisAsyncContext *ac, int status);
    static void onDisconnectCb(const redisAsyncContext *ac, int status);
    static void onReplyCb(redisAsyncContext *ac, void *reply, void *privdata);
    static void onMessageCb(redisAsyncContext *ac, void *reply, void *privdata);

    void attempt();
    void onLocated(uint64_t generation, bool ok, const Endpoint &where, const std::string &error);
    void connectTo(const Endpoint &where);
    void sendHandshake();
    void handshakeCall(std::vector<std::string> args, CallDone onReply);
    void onHandshakeDone();
    bool send(Command *cmd);
    void onReply(Command *cmd, const redisReply *reply);
    enum class Retry : uint8_t {
        Backoff,   ///< wait before the next attempt (failed attempts, refusals)
        IfStable,  ///< at once if the connection had worked for a while
        Now,       ///< at once: we know where to go (Sentinel named a new master)
    };
    /// The connection (or attempt) is over. `byUs`: we end it (hiredis is not
    /// already freeing the context).
    void drop(bool byUs, const std::string &reason, Retry retry);
    void fail(Command *cmd, std::string_view why);
    void failWaiting(std::string_view why);
    void onTimer();
    void arm();
    uint64_t now() const;
    std::string where() const;
    std::string downReason() const;

    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> log_;
    LinkOptions options_;
    Locator locator_;
    std::function<void()> onClosed_;
    Backoff backoff_;

    State state_ = State::Idle;
    redisAsyncContext *ac_ = nullptr;
    Endpoint endpoint_;
    uint64_t generation_ = 0;  ///< bumped per attempt: late locate results are ignored
    uint64_t attemptDeadline_ = 0;
    uint64_t retryAt_ = 0;
    uint64_t readySince_ = 0;
    std::string fatal_;      ///< a handshake refusal (bad password, not a master)
    std::string lastError_;  ///< why the last attempt or connection ended

    CommandList inflight_;  ///< sent, awaiting a reply; sorted by deadline
    CommandList waiting_;   ///< not sent yet (no connection); sorted by deadline

    std::string channel_;
    std::function<void(std::string_view)> onMessage_;

    // Logging once per incident rather than per attempt or request.
    bool everReady_ = false;
    bool incident_ = false;  ///< unreachable since the last Ready
    uint64_t downSince_ = 0;
    uint64_t failedThisIncident_ = 0;
    uint64_t failedWhileDown_ = 0;
    std::string loggedFatal_;

    uv_timer_t *timer_;  ///< heap: freed in its close callback
    bool timerActive_ = false;
    uint64_t timerDue_ = 0;
};

}  // namespace geopol::redis_store
