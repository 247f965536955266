// memory_store.cpp - the sharded account table and the Store semantics.
#include "memory_store.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>

namespace geopol::memory_store {

int64_t systemClockMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

int64_t ceilSeconds(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

// Refreshes or adds `key`. Linear search: accounts hold a few dozen entries
// at most, and refreshing an existing one allocates nothing.
bool upsert(std::vector<Entry> &map, std::string_view key, int64_t now)
{
    for (Entry &e : map)
        if (e.key == key) {
            e.lastSeenMs = std::max(e.lastSeenMs, now);  // a clock step back never shortens
            return false;
        }
    map.push_back(Entry{std::string(key), now});
    return true;
}

StoreResult failure(const std::exception &e)
{
    StoreResult r;
    r.ok = false;
    r.error = std::string("memory-store: ") + e.what();
    return r;
}

}  // namespace

MemoryStore::MemoryStore(StoreOptions options, Clock clock)
    : clock_(std::move(clock)),
      ttlSeconds_(options.ttlSeconds),
      blockPermanent_(options.blockPermanent),
      maxAccounts_(options.maxAccounts)
{
}

MemoryStore::~MemoryStore() = default;

void MemoryStore::setOptions(const StoreOptions &options)
{
    ttlSeconds_ = options.ttlSeconds;
    blockPermanent_ = options.blockPermanent;
    maxAccounts_ = options.maxAccounts;
    enforceLimit({});
}

const char *operationName(Operation op)
{
    switch (op) {
        case Operation::Record:
            return "record";
        case Operation::Block:
            return "block";
        case Operation::Unlock:
            return "unlock";
        case Operation::Inspect:
            return "inspect";
        case Operation::kCount:
            break;
    }
    return "unknown";
}

void MemoryStore::countCall(Operation op, bool ok)
{
    ops_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
    if (!ok)
        errors_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
}

BlockedCounts MemoryStore::blockedCounts() const
{
    BlockedCounts out;
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load(std::memory_order_relaxed) * 1000;
    for (const Shard &s : shards_) {
        std::lock_guard lock(s.mutex);
        for (const Account *a : s.blocked) {
            if (a->block == BlockState::Permanent)
                ++out.permanent;
            else if (a->block == BlockState::Temporary && a->blockedAtMs + ttlMs > now)
                ++out.temporary;
        }
    }
    return out;
}

StoreOptions MemoryStore::options() const
{
    return StoreOptions{ttlSeconds_.load(), blockPermanent_.load(), maxAccounts_.load()};
}

// ---- Store interface: compute under the shard lock, call back after it ----

void MemoryStore::record(const Observation &obs, StoreDone done)
{
    StoreResult r;
    try {
        r = recordNow(obs);
    } catch (const std::exception &e) {
        r = failure(e);
    }
    countCall(Operation::Record, r.ok);
    done(r);
}

void MemoryStore::block(std::string_view account, StoreDone done)
{
    StoreResult r;
    try {
        r = blockNow(account);
    } catch (const std::exception &e) {
        r = failure(e);
    }
    countCall(Operation::Block, r.ok);
    done(r);
}

void MemoryStore::unlock(std::string_view account, StoreDone done)
{
    StoreResult r;
    try {
        r = unlockNow(account);
    } catch (const std::exception &e) {
        r = failure(e);
    }
    countCall(Operation::Unlock, r.ok);
    done(r);
}

void MemoryStore::inspect(std::string_view account, StoreDone done)
{
    StoreResult r;
    try {
        r = inspectNow(account);
    } catch (const std::exception &e) {
        r = failure(e);
    }
    countCall(Operation::Inspect, r.ok);
    done(r);
}

// ---- operations -----------------------------------------------------------

StoreResult MemoryStore::recordNow(const Observation &obs)
{
    StoreResult r;
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load(std::memory_order_relaxed) * 1000;
    const bool nothing = obs.ip.empty() && obs.country.empty();
    bool inserted = false;
    {
        Shard &s = shardFor(obs.account);
        std::lock_guard lock(s.mutex);
        auto it = s.accounts.find(obs.account);
        if (it == s.accounts.end() && nothing) {
            r.found = false;  // nothing to remember: do not create an empty account
            return r;
        }
        Account *a = it != s.accounts.end() ? &it->second : nullptr;
        if (!a) {
            a = &insert(s, obs.account);
            inserted = true;
        }
        expire(s, *a, now, ttlMs);
        if (!obs.ip.empty())
            upsert(a->maps[obs.home ? HomeIps : ForeignIps], obs.ip, now);
        if (!obs.country.empty())
            upsert(a->maps[obs.home ? HomeCountries : ForeignCountries], obs.country, now);
        touch(s, *a, now);
        if (!nothing)
            changes_.fetch_add(1, std::memory_order_relaxed);
        fillState(*a, now, ttlMs, obs.wantLists, r.state);
    }
    if (inserted)
        enforceLimit(obs.account);
    return r;
}

StoreResult MemoryStore::blockNow(std::string_view account)
{
    StoreResult r;
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load(std::memory_order_relaxed) * 1000;
    bool inserted = false;
    {
        Shard &s = shardFor(account);
        std::lock_guard lock(s.mutex);
        auto it = s.accounts.find(account);
        Account *a = it != s.accounts.end() ? &it->second : nullptr;
        if (!a) {
            a = &insert(s, account);
            inserted = true;
        }
        expire(s, *a, now, ttlMs);
        // Under the shard lock: of concurrent callers exactly one sees None.
        if (a->block == BlockState::None) {
            a->block = blockPermanent_ ? BlockState::Permanent : BlockState::Temporary;
            a->blockedAtMs = now;
            s.blocked.insert(a);
            r.newly = true;
            changes_.fetch_add(1, std::memory_order_relaxed);
        }
        touch(s, *a, now);
        fillState(*a, now, ttlMs, false, r.state);
    }
    if (inserted)
        enforceLimit(account);
    return r;
}

StoreResult MemoryStore::unlockNow(std::string_view account)
{
    StoreResult r;
    Shard &s = shardFor(account);
    std::lock_guard lock(s.mutex);
    auto it = s.accounts.find(account);
    r.found = it != s.accounts.end();
    if (r.found) {
        erase(s, it->second);
        changes_.fetch_add(1, std::memory_order_relaxed);
    }
    return r;
}

StoreResult MemoryStore::inspectNow(std::string_view account) const
{
    StoreResult r;
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load(std::memory_order_relaxed) * 1000;
    const Shard &s = shards_[Hash{}(account) % kShards];
    std::lock_guard lock(s.mutex);
    auto it = s.accounts.find(account);
    if (it == s.accounts.end()) {
        r.found = false;
        return r;
    }
    fillState(it->second, now, ttlMs, true, r.state);  // filters, never purges
    const AccountState &st = r.state;
    r.found = st.block != BlockState::None || st.foreignIps || st.foreignCountries || st.homeIps ||
              st.homeCountries;
    return r;
}

// ---- expiry, state ----------------------------------------------------------

void MemoryStore::expire(Shard &s, Account &a, int64_t now, int64_t ttlMs) const
{
    if (a.block == BlockState::Temporary && a.blockedAtMs + ttlMs <= now) {
        a.block = BlockState::None;
        s.blocked.erase(&a);
    }
    if (a.block == BlockState::Permanent)
        return;  // a permanently blocked account keeps its evidence
    for (auto &map : a.maps)
        std::erase_if(map, [&](const Entry &e) { return e.lastSeenMs + ttlMs <= now; });
}

void MemoryStore::fillState(const Account &a, int64_t now, int64_t ttlMs, bool lists,
                            AccountState &out) const
{
    const bool permanent = a.block == BlockState::Permanent;
    BlockState block = a.block;
    if (block == BlockState::Temporary && a.blockedAtMs + ttlMs <= now)
        block = BlockState::None;

    int64_t expiresAt = std::numeric_limits<int64_t>::min();
    std::array<uint32_t, kMapCount> counts{};
    std::array<std::vector<std::string> *, kMapCount> outLists = {
        &out.foreignIpList, &out.foreignCountryList, &out.homeIpList, &out.homeCountryList};
    for (size_t m = 0; m < kMapCount; ++m) {
        for (const Entry &e : a.maps[m]) {
            if (!permanent && e.lastSeenMs + ttlMs <= now)
                continue;
            ++counts[m];
            expiresAt = std::max(expiresAt, e.lastSeenMs + ttlMs);
            if (lists)
                outLists[m]->push_back(e.key);
        }
    }
    out.foreignIps = counts[ForeignIps];
    out.foreignCountries = counts[ForeignCountries];
    out.homeIps = counts[HomeIps];
    out.homeCountries = counts[HomeCountries];
    out.block = block;
    out.blockTtlSeconds = -1;
    if (block == BlockState::Temporary) {
        out.blockTtlSeconds = ceilSeconds(a.blockedAtMs + ttlMs - now);
        expiresAt = std::max(expiresAt, a.blockedAtMs + ttlMs);
    }
    out.ttlSeconds = (permanent || expiresAt == std::numeric_limits<int64_t>::min())
                         ? -1
                         : ceilSeconds(expiresAt - now);
}

// ---- shards, LRU ----------------------------------------------------------

MemoryStore::Shard &MemoryStore::shardFor(std::string_view account)
{
    return shards_[Hash{}(account) % kShards];
}

MemoryStore::Account &MemoryStore::insert(Shard &s, std::string_view name)
{
    auto [it, fresh] = s.accounts.try_emplace(std::string(name));
    Account &a = it->second;
    if (fresh) {
        a.name = &it->first;
        linkNewest(s, a);
        total_.fetch_add(1, std::memory_order_relaxed);
    }
    return a;
}

void MemoryStore::erase(Shard &s, Account &a)
{
    s.blocked.erase(&a);
    unlink(s, a);
    s.accounts.erase(s.accounts.find(std::string_view(*a.name)));
    total_.fetch_sub(1, std::memory_order_relaxed);
}

void MemoryStore::touch(Shard &s, Account &a, int64_t now)
{
    a.lastActiveMs = std::max(a.lastActiveMs, now);
    a.seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (s.newest != &a) {
        unlink(s, a);
        linkNewest(s, a);
    }
}

void MemoryStore::unlink(Shard &s, Account &a)
{
    (a.older ? a.older->newer : s.oldest) = a.newer;
    (a.newer ? a.newer->older : s.newest) = a.older;
    a.older = a.newer = nullptr;
}

void MemoryStore::linkNewest(Shard &s, Account &a)
{
    a.older = s.newest;
    a.newer = nullptr;
    (s.newest ? s.newest->newer : s.oldest) = &a;
    s.newest = &a;
}

size_t MemoryStore::sweep(size_t shard)
{
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load(std::memory_order_relaxed) * 1000;
    Shard &s = shards_[shard % kShards];
    std::lock_guard lock(s.mutex);
    size_t dropped = 0;
    for (Account *a = s.oldest; a;) {
        Account *next = a->newer;
        // lastActiveMs bounds every entry's sighting and the block time, so
        // from here on everything is still live: stop.
        if (a->lastActiveMs + ttlMs > now)
            break;
        if (a->block != BlockState::Permanent) {
            erase(s, *a);
            ++dropped;
        }
        a = next;
    }
    return dropped;
}

// Eviction compares the oldest account of every shard, locking one shard at
// a time (never two: two threads evicting must not deadlock). `keep` is the
// account being inserted, which must not be its own victim.
bool MemoryStore::evictOldest(std::string_view keep)
{
    for (int attempt = 0; attempt < 64; ++attempt) {
        uint64_t bestSeq = std::numeric_limits<uint64_t>::max();
        size_t best = kShards;
        for (size_t i = 0; i < kShards; ++i) {
            std::lock_guard lock(shards_[i].mutex);
            Account *a = shards_[i].oldest;
            if (a && *a->name == keep)
                a = a->newer;
            if (a && a->seq < bestSeq) {
                bestSeq = a->seq;
                best = i;
            }
        }
        if (best == kShards)
            return false;
        Shard &s = shards_[best];
        std::lock_guard lock(s.mutex);
        Account *a = s.oldest;
        if (a && *a->name == keep)
            a = a->newer;
        if (a && a->seq == bestSeq) {
            erase(s, *a);
            evictions_.fetch_add(1, std::memory_order_relaxed);
            changes_.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        // Touched meanwhile by another thread: look again.
    }
    return false;
}

void MemoryStore::enforceLimit(std::string_view keep)
{
    while (total_.load(std::memory_order_relaxed) > maxAccounts_.load(std::memory_order_relaxed))
        if (!evictOldest(keep))
            break;
}

// ---- snapshots ------------------------------------------------------------

void MemoryStore::copyShard(size_t shard, std::vector<AccountRecord> &out) const
{
    const Shard &s = shards_[shard % kShards];
    std::lock_guard lock(s.mutex);
    out.reserve(out.size() + s.accounts.size());
    for (const Account *a = s.oldest; a; a = a->newer)
        out.push_back(AccountRecord{*a->name, a->maps, a->block, a->blockedAtMs});
}

void MemoryStore::restore(std::vector<AccountRecord> records)
{
    const int64_t now = clock_();
    const int64_t ttlMs = ttlSeconds_.load() * 1000;

    struct Live {
        AccountRecord *rec;
        int64_t lastActiveMs;
    };
    std::vector<Live> live;
    live.reserve(records.size());
    for (AccountRecord &rec : records) {
        if (rec.block == BlockState::Temporary && rec.blockedAtMs + ttlMs <= now)
            rec.block = BlockState::None;
        int64_t active = rec.block != BlockState::None ? rec.blockedAtMs : 0;
        bool any = false;
        for (auto &map : rec.maps) {
            if (rec.block != BlockState::Permanent)
                std::erase_if(map, [&](const Entry &e) { return e.lastSeenMs + ttlMs <= now; });
            for (const Entry &e : map)
                active = std::max(active, e.lastSeenMs);
            any = any || !map.empty();
        }
        if (any || rec.block != BlockState::None)
            live.push_back(Live{&rec, active});
    }
    // Oldest first, so each shard's LRU list and the global order come back as they were.
    std::stable_sort(live.begin(), live.end(),
                     [](const Live &x, const Live &y) { return x.lastActiveMs < y.lastActiveMs; });
    for (const Live &l : live) {
        Shard &s = shardFor(l.rec->name);
        std::lock_guard lock(s.mutex);
        if (s.accounts.count(std::string_view(l.rec->name)))
            continue;  // a duplicate in the file: the first one stays
        Account &a = insert(s, l.rec->name);
        a.maps = std::move(l.rec->maps);
        a.block = l.rec->block;
        a.blockedAtMs = l.rec->blockedAtMs;
        if (a.block != BlockState::None)
            s.blocked.insert(&a);
        a.lastActiveMs = l.lastActiveMs;
        a.seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    enforceLimit({});
}

}  // namespace geopol::memory_store
