// redis_store.hpp - geopol::Store on Redis: the account records, the links
// to the master (and a replica, and Sentinel), and failover.
//
// Writes (record, block, unlock) always go to the master; inspect() reads
// from the replica when one is configured and connected, else the master.
// With Sentinel, the master's address is asked from the Sentinels before
// every connection, and a +switch-master announcement makes the links
// reconnect at once.
//
// Lifetime: created by start() of the module, ended by shutdown(), after
// which the object deletes itself once the loop has closed its handles (the
// module may be gone by then). Everything runs on the loop thread.
#pragma once

#include <netdb.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>

#include "geopol/store.hpp"
#include "link.hpp"
#include "settings.hpp"

namespace spdlog {
class logger;
}

namespace geopol::redis_store {

class RedisStore final : public Store {
public:
    RedisStore(uv_loop_t *loop, std::shared_ptr<spdlog::logger> log, Settings settings);
    RedisStore(const RedisStore &) = delete;
    RedisStore &operator=(const RedisStore &) = delete;

    /// Starts connecting and returns; nothing blocks. Requests that arrive
    /// while the first connection is being made wait for it (within
    /// command-timeout).
    void start();

    /// Fails whatever is pending, closes the connections. `this` is deleted
    /// later, from the loop; do not use it after this call.
    void shutdown();

    // geopol::Store
    void record(const Observation &obs, StoreDone done) override;
    void block(std::string_view account, StoreDone done) override;
    void unlock(std::string_view account, StoreDone done) override;
    void inspect(std::string_view account, StoreDone done) override;

    const Settings &settings() const { return settings_; }
    bool masterReady() const { return master_ && master_->ready(); }
    /// The master's address as last connected (or given by Sentinel).
    Endpoint masterEndpoint() const { return master_ ? master_->endpoint() : Endpoint{}; }
    /// Requests failed because Redis was unreachable, since start.
    uint64_t failedWhileDown() const;

private:
    ~RedisStore() override;

    LinkOptions linkOptions(std::string role) const;
    Command *command(Op op, std::string_view account, StoreDone done) const;
    void resolve(const Endpoint &where, LocateDone done);
    void askSentinel(std::vector<std::string> args, CallDone done);
    void locateMaster(LocateDone done);
    void locateReplica(LocateDone done);
    void onSwitchMaster(std::string_view message);
    void linkClosed();
    struct Lookup;
    static void onResolved(uv_getaddrinfo_t *req, int status, addrinfo *res);

    uv_loop_t *loop_;
    std::shared_ptr<spdlog::logger> log_;
    Settings settings_;
    std::unique_ptr<Link> master_, replica_, sentinel_, events_;
    std::optional<Endpoint> sentinelMaster_;  ///< the master Sentinel named last
    size_t nextSentinel_ = 0, nextEventsSentinel_ = 0;
    int open_ = 0;  ///< links not yet closed plus DNS lookups in flight
    bool stopping_ = false;
};

}  // namespace geopol::redis_store
