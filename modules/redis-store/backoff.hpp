// backoff.hpp - reconnect delays: exponential with jitter, capped.
//
// Jitter keeps many geopold processes from reconnecting in lock-step after a
// Redis restart. Pure: the random source is injected so tests are exact.
#pragma once

#include <cstdint>
#include <functional>

namespace geopol::redis_store {

class Backoff {
public:
    /// Returns a number in [0, 1).
    using Random = std::function<double()>;

    Backoff(uint64_t initialMs, uint64_t maxMs, Random random = {});

    /// The delay before the next attempt: initial, 2x, 4x, ... up to max,
    /// each multiplied by a factor in [0.8, 1.2), then capped at max.
    uint64_t next();
    /// After a success: the next delay is the initial one again.
    void reset() { failures_ = 0; }
    /// Delays handed out since the last reset().
    uint32_t failures() const { return failures_; }
    void setMax(uint64_t maxMs) { maxMs_ = maxMs; }

private:
    uint64_t initialMs_, maxMs_;
    Random random_;
    uint32_t failures_ = 0;
};

}  // namespace geopol::redis_store
