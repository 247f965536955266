// server.hpp - the policy listeners and their connections on one loop.
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chain/chain.hpp"
#include "net/listen_spec.hpp"
#include "server_settings.hpp"

namespace geopol::core {

class Connection;

/// A counter written by one loop thread and read by any (metrics): relaxed
/// atomics, so the hot path is a plain add and readers see no torn values.
class Counter {
public:
    void bump(uint64_t n = 1)
    {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

/// Counters for GET /metrics, one set per worker loop.
struct ServerStats {
    Counter requests;
    Counter dunno, reject, defer, info, other;
    Counter failures;        ///< answered with a failure action
    Counter timeouts;        ///< of which: the deadline passed
    Counter protocolErrors;  ///< connections dropped for malformed input
    Counter accepted, refused;
    Counter slowClients;  ///< closed: a request not completed within read-timeout

    /// Decision latency, Prometheus-style cumulative buckets (seconds).
    static constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                          0.005,  0.01,    0.025,  0.05,  0.1,
                                          0.25,   0.5,     1,      2.5,   5};
    static constexpr size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);
    Counter latencyBuckets[kBucketCount];  ///< not cumulative; summed when rendered
    Counter latencyCount;
    Counter latencySumNs;

    /// Counts an answered request by the first word of its action.
    void count(std::string_view action, uint64_t elapsedNs)
    {
        if (action.compare(0, 5, "DUNNO") == 0)
            dunno.bump();
        else if (action.compare(0, 6, "REJECT") == 0)
            reject.bump();
        else if (action.compare(0, 5, "DEFER") == 0)
            defer.bump();
        else if (action.compare(0, 4, "INFO") == 0)
            info.bump();
        else
            other.bump();
        latencyCount.bump();
        latencySumNs.bump(elapsedNs);
        double s = static_cast<double>(elapsedNs) / 1e9;
        for (size_t i = 0; i < kBucketCount; ++i)
            if (s <= kBuckets[i]) {
                latencyBuckets[i].bump();
                break;
            }
    }

    /// Prometheus text for the sum of `all` (one per worker).
    static void render(std::string &out, const std::vector<const ServerStats *> &all,
                       size_t connections);
};

/// Logs at most once per interval, counting what it swallowed meanwhile, so
/// a flood of bad clients cannot flood the log.
class RateLimitedLog {
public:
    explicit RateLimitedLog(uint64_t intervalMs = 1000) : intervalMs_(intervalMs) {}
    /// True if a line may be written now; `suppressed` tells how many were skipped.
    bool allow(uint64_t nowMs, uint64_t &suppressed);

private:
    uint64_t intervalMs_;
    uint64_t last_ = 0;
    uint64_t skipped_ = 0;
    bool first_ = true;
};

class Server {
public:
    explicit Server(uv_loop_t *loop);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    /// Binds every listener of `settings`; false with errors if any failed.
    /// `reusePort`: let other workers bind the same inet addresses.
    /// `accept`: start accepting at once; otherwise startAccepting() does,
    /// once privileges are dropped and the chain runs.
    bool listen(const ServerSettings &settings, std::vector<std::string> &errors,
                bool reusePort = false, bool accept = true);
    /// Binds the same addresses as `first` (another worker's server): its own
    /// SO_REUSEPORT socket for inet, the same socket for unix.
    bool listenLike(const Server &first, const ServerSettings &settings,
                    std::vector<std::string> &errors, bool accept = true);
    bool startAccepting(std::vector<std::string> &errors);
    /// "inet:127.0.0.1:4646" with the real port, in configuration order.
    const std::vector<std::string> &bound() const { return bound_; }

    /// What new requests use from now on.
    void update(std::shared_ptr<const ServerSettings> settings, std::shared_ptr<Chain> chain);

    /// Graceful stop: close listeners and idle connections; `drained` runs
    /// once no connection is left.
    void shutdown(std::function<void()> drained);
    /// Closes every connection, busy or not.
    void closeAll();

    /// Readable from any thread.
    size_t connectionCount() const { return connectionCount_.load(std::memory_order_relaxed); }
    bool shuttingDown() const { return shuttingDown_; }

    // ---- for connections
    uv_loop_t *loop() const { return loop_; }
    const std::shared_ptr<const ServerSettings> &settings() const { return settings_; }
    const std::shared_ptr<Chain> &chain() const { return chain_; }
    uint64_t nextRequestId() { return ++requestIds_; }
    ServerStats &stats() { return stats_; }
    RateLimitedLog &protocolErrorLog() { return protocolLog_; }
    RateLimitedLog &failureLog() { return failureLog_; }
    RateLimitedLog &slowClientLog() { return slowLog_; }
    std::array<char, 65536> &readBuffer() { return readBuffer_; }
    void connectionClosed(Connection *c);

private:
    struct Listener;
    void openListener(const ListenSpec &spec, const std::string &text,
                      const ServerSettings &settings, bool reusePort, int sharedFd, bool accept,
                      std::vector<std::string> &errors);
    static void onConnection(uv_stream_t *listener, int status);
    void closeListeners();

    uv_loop_t *loop_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::string> bound_;
    std::unordered_map<Connection *, std::shared_ptr<Connection>> connections_;
    std::atomic<size_t> connectionCount_{0};
    std::shared_ptr<const ServerSettings> settings_;
    std::shared_ptr<Chain> chain_;
    uint64_t requestIds_ = 0;
    ServerStats stats_;
    RateLimitedLog protocolLog_, failureLog_, refuseLog_, slowLog_;
    std::array<char, 65536> readBuffer_;
    bool shuttingDown_ = false;
    std::function<void()> drained_;
};

}  // namespace geopol::core
