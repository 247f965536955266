// shared_state.hpp - one store per state file, shared by every module instance.
//
// A reload builds a fresh chain, starts it, then stops the old one. The new
// memory-store instance must see the accounts the old one holds, not a
// snapshot up to a minute old, so the store lives in a process-wide registry
// keyed by state-file path and each instance holds a reference. The same
// lets several event-loop workers share one store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "geopol/module.hpp"
#include "memory_store.hpp"

namespace geopol::memory_store {

struct SharedState {
    SharedState(std::string statePath, bool persistent, StoreOptions options, Clock clock)
        : path(std::move(statePath)), persist(persistent), store(options, std::move(clock))
    {
    }

    const std::string path;  ///< state file; "" when persistence is off by configuration
    const bool persist;      ///< false: no state file, or its directory is unusable
    MemoryStore store;

    // Snapshot bookkeeping, shared by all instances so they do not write twice.
    std::atomic<bool> writing{false};           ///< a background snapshot is queued or running
    std::atomic<bool> writeFailing{false};      ///< the last write failed (log once per streak)
    std::atomic<size_t> sweepCursor{0};         ///< next shard to sweep
    std::atomic<uint64_t> snapshotFailures{0};  ///< failed snapshot writes (for /metrics)

    /// Writes a snapshot if anything changed since the last one. Blocks: call
    /// it from a worker thread, or at shutdown. `wrote` tells whether it did.
    Status saveIfChanged(bool &wrote);
    /// Declares the current content saved (it was just loaded from the file).
    void markSaved();

private:
    std::mutex writeMutex_;      // one writer at a time, and savedChanges_
    uint64_t savedChanges_ = 0;  // store.changeCount() at the last good snapshot
};

class StateRegistry {
public:
    /// Builds a state when none is live for a path; runs under the registry
    /// lock, so concurrent starters load the file once. Null + error on failure.
    using Loader = std::function<std::shared_ptr<SharedState>(std::string &error)>;

    /// The live state for `path` (adopted = true), or a new one from `load`.
    static std::shared_ptr<SharedState> acquire(const std::string &path, const Loader &load,
                                                bool &adopted, std::string &error);

    /// Drops one user. When it was the last, `onLast` runs before anyone can
    /// acquire the path again (the final snapshot must be on disk first).
    static void release(const std::shared_ptr<SharedState> &state,
                        const std::function<void()> &onLast);
};

}  // namespace geopol::memory_store
