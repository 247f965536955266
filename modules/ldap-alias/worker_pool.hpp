// worker_pool.hpp - a bounded pool of threads that run synchronous libldap
// lookups and hand the results back to the loop.
//
// Why threads and not libldap's asynchronous API on the loop: connecting,
// the TLS handshake (ldaps:// and StartTLS) and the bind would all have to be
// driven as non-blocking state machines, and libldap has no non-blocking TLS
// handshake that it documents. A worker simply calls ldap_connect(),
// ldap_start_tls_s(), ldap_sasl_bind_s() and ldap_search_ext_s() with the
// lookup's remaining time as their timeout. The loop never waits for a worker.
//
// Threads: at most pool-size, started on demand. Each owns one connection and
// keeps it between lookups; a worker beyond idle-pool-size that has been idle
// for a minute closes its connection and ends.
//
// Deadlines: the loop owns them (see Resolver). abandon() takes a queued
// lookup off the queue, or shuts the running worker's socket down, so its
// libldap call returns at once; that connection is then discarded.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "geopol/module.hpp"
#include "ldap_connection.hpp"
#include "settings.hpp"

namespace geopol::ldap_alias {

struct WorkerSlot;

/// One lookup: what to search, and what the worker found.
struct Lookup {
    // Set by the loop before submit(), read-only afterwards.
    std::string filter;
    Clock::time_point deadline;

    // Set by the worker; the loop reads them once the lookup is handed back.
    SearchResult result;
    std::string server;                      ///< URI of the connection used
    std::vector<std::string> connectErrors;  ///< failed connection attempts, in order
    bool connected = false;                  ///< this lookup opened a new connection
    bool reconnected = false;                ///< ... after a kept connection had broken

    // Pool bookkeeping, under the pool's mutex.
    enum class State { Queued, Running, Finished, Abandoned };
    State state = State::Queued;
    WorkerSlot *slot = nullptr;
};

class WorkerPool {
public:
    using Completed = std::function<void(const std::shared_ptr<Lookup> &)>;

    /// `completed` runs on the loop thread for every lookup that was not
    /// abandoned.
    WorkerPool(uv_loop_t *loop, const Settings &settings, Completed completed);
    ~WorkerPool();
    WorkerPool(const WorkerPool &) = delete;
    WorkerPool &operator=(const WorkerPool &) = delete;

    Status start();

    /// Queues the lookup, starting a worker if none is free and the pool is
    /// not full. False once stopped.
    bool submit(const std::shared_ptr<Lookup> &lookup);

    /// Gives up on a lookup (its deadline passed). True if it was queued or
    /// running, so `completed` will never see it; false if it has finished
    /// and its result is on the way.
    bool abandon(const std::shared_ptr<Lookup> &lookup);

    /// Ends the workers: queued lookups are dropped, running ones aborted.
    /// Waits a moment for them to leave, never long (a worker still inside
    /// connect() finishes on its own, detached).
    void stop();

    int liveWorkers() const;

private:
    struct Shared;
    static void workerMain(std::shared_ptr<Shared> shared, std::shared_ptr<WorkerSlot> slot);
    static void onAsync(uv_async_t *handle);

    uv_loop_t *loop_;
    Completed completed_;
    std::shared_ptr<Shared> shared_;
    uv_async_t *async_ = nullptr;  // heap: freed by its close callback
    bool stopped_ = false;
};

}  // namespace geopol::ldap_alias
