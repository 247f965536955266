// memory_store.hpp - the embedded account store: geopol::Store in process memory.
//
// Thread-safe: accounts are spread over kShards shards by hash, each with its
// own mutex, map and LRU list, so event-loop workers sharing one store only
// contend when they touch the same shard. No lock is held while a callback
// runs. Time comes from an injectable wall clock (snapshots must stay valid
// across restarts, and tests move time by hand).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "geopol/store.hpp"

namespace geopol::memory_store {

/// Wall-clock milliseconds since the epoch.
using Clock = std::function<int64_t()>;
int64_t systemClockMs();

struct StoreOptions {
    int64_t ttlSeconds = 3600;    ///< entry lifetime since last seen; temporary block length
    bool blockPermanent = false;  ///< block() sets Permanent blocks
    size_t maxAccounts = 100000;  ///< beyond this the least recently seen account goes
};

/// One remembered IP key or country code.
struct Entry {
    std::string key;
    int64_t lastSeenMs = 0;
};

enum MapIndex : uint8_t { ForeignIps, ForeignCountries, HomeIps, HomeCountries, kMapCount };

/// The Store operations, for the per-operation counters.
enum class Operation : uint8_t { Record, Block, Unlock, Inspect, kCount };
const char *operationName(Operation op);

/// Accounts blocked right now (expired temporary blocks not counted).
struct BlockedCounts {
    uint64_t temporary = 0;
    uint64_t permanent = 0;
};

/// An account as snapshots see it: copied out of the store or read from a file.
struct AccountRecord {
    std::string name;
    std::array<std::vector<Entry>, kMapCount> maps;
    BlockState block = BlockState::None;
    int64_t blockedAtMs = 0;
};

class MemoryStore final : public Store {
public:
    static constexpr size_t kShards = 64;

    explicit MemoryStore(StoreOptions options = {}, Clock clock = systemClockMs);
    ~MemoryStore() override;
    MemoryStore(const MemoryStore &) = delete;
    MemoryStore &operator=(const MemoryStore &) = delete;

    // geopol::Store: each completes synchronously, before returning.
    void record(const Observation &obs, StoreDone done) override;
    void block(std::string_view account, StoreDone done) override;
    void unlock(std::string_view account, StoreDone done) override;
    void inspect(std::string_view account, StoreDone done) override;

    // The same operations returning their result; the Store methods wrap these.
    StoreResult recordNow(const Observation &obs);
    StoreResult blockNow(std::string_view account);
    StoreResult unlockNow(std::string_view account);
    StoreResult inspectNow(std::string_view account) const;

    /// Applies new options (a reload); existing blocks keep their kind.
    void setOptions(const StoreOptions &options);
    StoreOptions options() const;

    /// Drops the accounts of one shard that have nothing live and no block.
    /// Cheap: walks the shard's LRU list from the oldest end and stops at the
    /// first account active within the TTL. Returns how many it dropped.
    size_t sweep(size_t shard);

    /// Copies one shard's accounts (for a snapshot), holding only that shard's lock.
    void copyShard(size_t shard, std::vector<AccountRecord> &out) const;
    /// Adds loaded accounts, dropping what has expired by now; keeps their
    /// relative recency so eviction order survives a restart.
    void restore(std::vector<AccountRecord> records);

    size_t accountCount() const { return total_.load(std::memory_order_relaxed); }
    /// Accounts evicted because max-accounts was reached, since construction.
    uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
    /// Grows with every change a snapshot would show; equal values mean "nothing new".
    uint64_t changeCount() const { return changes_.load(std::memory_order_relaxed); }
    /// Counts the blocked accounts. Cheap: each shard keeps its blocked
    /// accounts in a set, so this walks only those, one shard lock at a time.
    BlockedCounts blockedCounts() const;
    /// Store calls and failed store calls since construction, per operation.
    uint64_t operations(Operation op) const
    {
        return ops_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
    }
    uint64_t errors(Operation op) const
    {
        return errors_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
    }
    int64_t now() const { return clock_(); }

private:
    struct Account {
        const std::string *name = nullptr;  // the map node's key
        std::array<std::vector<Entry>, kMapCount> maps;
        BlockState block = BlockState::None;
        int64_t blockedAtMs = 0;
        int64_t lastActiveMs = 0;  // latest of any entry's last sighting and blockedAt
        uint64_t seq = 0;          // global recency order, for eviction across shards
        Account *older = nullptr;  // LRU list, oldest at Shard::oldest
        Account *newer = nullptr;
    };

    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    struct alignas(64) Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Account, Hash, std::equal_to<>> accounts;
        std::unordered_set<const Account *> blocked;  // block != None when last touched
        Account *oldest = nullptr;
        Account *newest = nullptr;
    };

    Shard &shardFor(std::string_view account);
    Account &insert(Shard &s, std::string_view name);
    void erase(Shard &s, Account &a);
    void touch(Shard &s, Account &a, int64_t now);
    void unlink(Shard &s, Account &a);
    void linkNewest(Shard &s, Account &a);
    void expire(Shard &s, Account &a, int64_t now, int64_t ttlMs) const;
    void countCall(Operation op, bool ok);
    void fillState(const Account &a, int64_t now, int64_t ttlMs, bool lists,
                   AccountState &out) const;
    void enforceLimit(std::string_view keep);
    bool evictOldest(std::string_view keep);

    std::array<Shard, kShards> shards_;
    Clock clock_;
    std::atomic<int64_t> ttlSeconds_;
    std::atomic<bool> blockPermanent_;
    std::atomic<size_t> maxAccounts_;
    std::atomic<size_t> total_{0};
    std::atomic<uint64_t> seq_{0};
    std::atomic<uint64_t> evictions_{0};
    std::atomic<uint64_t> changes_{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(Operation::kCount)> ops_{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(Operation::kCount)> errors_{};
};

}  // namespace geopol::memory_store
