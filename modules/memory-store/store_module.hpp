// store_module.hpp - the memory-store module: provides the "store" service
// from process memory, sweeps expired accounts and snapshots them to disk.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "geopol/module.hpp"
#include "geopol/store.hpp"
#include "memory_store.hpp"
#include "shared_state.hpp"

namespace spdlog {
class logger;
}

namespace geopol::memory_store {

inline constexpr const char *kDefaultStateFile = "/var/lib/geopol/memory-store.json";

/// Prometheus lines for GET /metrics: accounts, blocked accounts (temporary,
/// permanent), calls and failed calls per operation, evictions, snapshot
/// failures. Labelled store="memory".
void renderStoreMetrics(const SharedState &state, std::string &out);

class MemoryStoreModule final : public Module, public Store {
public:
    explicit MemoryStoreModule(Clock clock = systemClockMs);
    ~MemoryStoreModule() override;

    Status configure(ConfigSection &cfg) override;
    Status start(Host &host) override;
    std::string_view provides() const override { return "store"; }
    bool handlesRequests() const override { return false; }
    void stop() override;

    // geopol::Store, forwarded to the shared store.
    void record(const Observation &obs, StoreDone done) override;
    void block(std::string_view account, StoreDone done) override;
    void unlock(std::string_view account, StoreDone done) override;
    void inspect(std::string_view account, StoreDone done) override;

    /// The store shared with other instances for the same state file (tests, REST).
    MemoryStore *store() { return state_ ? &state_->store : nullptr; }
    bool persistent() const { return state_ && state_->persist; }

private:
    std::shared_ptr<SharedState> openState(std::string &error);
    void startTimers();
    void onSweepTimer();
    void onSnapshotTimer();

    Clock clock_;
    StoreOptions options_;
    std::string stateFile_;
    int64_t snapshotIntervalMs_ = 60000;

    std::shared_ptr<spdlog::logger> log_;
    uv_loop_t *loop_ = nullptr;
    std::shared_ptr<SharedState> state_;  // kept after stop() for requests still in flight
    bool released_ = false;               // stop() handed the state back
    // Heap-allocated and freed in their close callbacks, which may run after
    // this object is gone.
    uv_timer_t *sweepTimer_ = nullptr;
    uv_timer_t *snapshotTimer_ = nullptr;
    uint64_t warnedEvictions_ = 0;
    uint64_t lastEvictionWarnMs_ = 0;
    bool evictionWarned_ = false;
};

}  // namespace geopol::memory_store
