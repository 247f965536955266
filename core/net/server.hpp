// server.hpp - the policy listeners and their connections on one loop.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chain/chain.hpp"
#include "server_settings.hpp"

namespace geopol::core {

class Connection;

/// Counters for GET /metrics; plain integers, updated on one loop.
struct ServerStats {
    uint64_t requests = 0;
    uint64_t dunno = 0, reject = 0, defer = 0, info = 0, other = 0;
    uint64_t failures = 0;        ///< answered with a failure action
    uint64_t timeouts = 0;        ///< of which: the deadline passed
    uint64_t protocolErrors = 0;  ///< connections dropped for malformed input
    uint64_t accepted = 0, refused = 0;

    /// Decision latency, Prometheus-style cumulative buckets (seconds).
    static constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                          0.005,  0.01,    0.025,  0.05,  0.1,
                                          0.25,   0.5,     1,      2.5,   5};
    static constexpr size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);
    uint64_t latencyBuckets[kBucketCount] = {};  ///< not cumulative; summed when rendered
    uint64_t latencyCount = 0;
    double latencySumSeconds = 0;

    /// Counts an answered request by the first word of its action.
    void count(std::string_view action, uint64_t elapsedNs)
    {
        if (action.compare(0, 5, "DUNNO") == 0)
            ++dunno;
        else if (action.compare(0, 6, "REJECT") == 0)
            ++reject;
        else if (action.compare(0, 5, "DEFER") == 0)
            ++defer;
        else if (action.compare(0, 4, "INFO") == 0)
            ++info;
        else
            ++other;
        double s = static_cast<double>(elapsedNs) / 1e9;
        ++latencyCount;
        latencySumSeconds += s;
        for (size_t i = 0; i < kBucketCount; ++i)
            if (s <= kBuckets[i]) {
                ++latencyBuckets[i];
                break;
            }
    }

    /// Prometheus text for these counters.
    void render(std::string &out, size_t connections) const;
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
    bool listen(const ServerSettings &settings, std::vector<std::string> &errors);
    /// "inet:127.0.0.1:4646" with the real port, in configuration order.
    const std::vector<std::string> &bound() const { return bound_; }

    /// What new requests use from now on.
    void update(std::shared_ptr<const ServerSettings> settings, std::shared_ptr<Chain> chain);

    /// Graceful stop: close listeners and idle connections; `drained` runs
    /// once no connection is left.
    void shutdown(std::function<void()> drained);
    /// Closes every connection, busy or not.
    void closeAll();

    size_t connectionCount() const { return connections_.size(); }
    bool shuttingDown() const { return shuttingDown_; }

    // ---- for connections
    uv_loop_t *loop() const { return loop_; }
    const std::shared_ptr<const ServerSettings> &settings() const { return settings_; }
    const std::shared_ptr<Chain> &chain() const { return chain_; }
    uint64_t nextRequestId() { return ++requestIds_; }
    ServerStats &stats() { return stats_; }
    RateLimitedLog &protocolErrorLog() { return protocolLog_; }
    RateLimitedLog &failureLog() { return failureLog_; }
    std::array<char, 65536> &readBuffer() { return readBuffer_; }
    void connectionClosed(Connection *c);

private:
    struct Listener;
    static void onConnection(uv_stream_t *listener, int status);
    void closeListeners();

    uv_loop_t *loop_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::string> bound_;
    std::unordered_map<Connection *, std::shared_ptr<Connection>> connections_;
    std::shared_ptr<const ServerSettings> settings_;
    std::shared_ptr<Chain> chain_;
    uint64_t requestIds_ = 0;
    ServerStats stats_;
    RateLimitedLog protocolLog_, failureLog_, refuseLog_;
    std::array<char, 65536> readBuffer_;
    bool shuttingDown_ = false;
    std::function<void()> drained_;
};

}  // namespace geopol::core
