// store.hpp - the "store" service: per-account memory of IPs and countries.
//
// Provided by memory-store (embedded, one host) and redis-store (shared by
// many hosts); the limits module cannot tell them apart.
//
// Semantics every implementation must keep:
//  * Each IP and country entry is remembered for `ttl` seconds since it was
//    last seen (a sliding window per entry); recording refreshes it.
//  * record() adds the observation and returns the counts in one atomic step,
//    so two concurrent requests for one account never lose an entry.
//  * block() is atomic too: of many concurrent callers exactly one learns
//    that it made the transition (newly == true). A block lasts `ttl`
//    seconds from the moment it was set, or forever when the store is
//    configured with block-permanent; while an account is permanently
//    blocked its entries do not expire.
//  * unlock() forgets the account completely.
//  * Callbacks run on the loop thread, possibly before the call returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace geopol {

enum class BlockState : uint8_t { None, Temporary, Permanent };

/// "none", "temporary" or "permanent": the block's name in log lines, REST
/// answers and the memory store's snapshot.
inline const char *blockStateName(BlockState b)
{
    switch (b) {
        case BlockState::None:
            return "none";
        case BlockState::Temporary:
            return "temporary";
        case BlockState::Permanent:
            return "permanent";
    }
    return "none";
}

struct Observation {
    std::string_view account;
    std::string_view ip;       ///< counting key; empty: record no IP
    std::string_view country;  ///< ISO code; empty: record no country
    bool home = false;         ///< record into the home maps, not the foreign ones
    bool wantLists = false;    ///< also return the entries (costs time; for logs)
};

struct AccountState {
    uint32_t foreignIps = 0, foreignCountries = 0;
    uint32_t homeIps = 0, homeCountries = 0;
    BlockState block = BlockState::None;
    int64_t blockTtlSeconds = -1;  ///< remaining block time; -1 when none or permanent
    int64_t ttlSeconds = -1;       ///< until the whole record expires; -1: never / none
    // Filled when asked for (Observation::wantLists, inspect()).
    std::vector<std::string> foreignIpList, foreignCountryList;
    std::vector<std::string> homeIpList, homeCountryList;
};

struct StoreResult {
    bool ok = true;
    std::string error;  ///< why not ok ("redis: timeout after 500 ms")
    bool found = true;  ///< inspect(): the account has a record
    AccountState state;
    bool newly = false;  ///< block(): this call made the transition
};

using StoreDone = std::function<void(const StoreResult &)>;

class Store {
public:
    virtual ~Store() = default;

    /// Records `obs` and returns the account's counts after it.
    virtual void record(const Observation &obs, StoreDone done) = 0;

    /// Marks the account blocked (see header comment).
    virtual void block(std::string_view account, StoreDone done) = 0;

    /// Forgets everything about the account.
    virtual void unlock(std::string_view account, StoreDone done) = 0;

    /// Read-only look at an account, with lists; found == false if unknown.
    virtual void inspect(std::string_view account, StoreDone done) = 0;
};

}  // namespace geopol
