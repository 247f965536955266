// result_cache.hpp - recent answers of the directory, so that a busy account
// costs one search per TTL instead of one per message.
//
// Loop thread only. The clock is a parameter (milliseconds, any epoch), so the
// tests drive time themselves; the module passes uv_now().
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace geopol::ldap_alias {

struct CachedAnswer {
    bool found = false;
    std::string account;  ///< when found: the lower-cased account
};

class ResultCache {
public:
    /// capacity 0 turns the cache off. A TTL of 0 keeps that kind of answer
    /// (found, or not found) out of the cache.
    ResultCache(size_t capacity, int64_t ttlMs, int64_t negativeTtlMs)
        : capacity_(capacity), ttlMs_(ttlMs), negativeTtlMs_(negativeTtlMs)
    {
    }

    /// The answer for `key` if it is younger than its TTL; nullptr otherwise
    /// (an expired entry is dropped). The pointer is valid until the next
    /// call that changes the cache.
    const CachedAnswer *find(std::string_view key, int64_t nowMs);

    /// Stores or replaces the answer for `key`; evicts the least recently
    /// used entry when full.
    void put(std::string_view key, CachedAnswer answer, int64_t nowMs);

    void clear();
    size_t size() const { return map_.size(); }
    size_t capacity() const { return capacity_; }

    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }
    uint64_t evictions() const { return evictions_; }

private:
    struct Node {
        std::string key;
        CachedAnswer answer;
        int64_t expiresMs = 0;
    };
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    using List = std::list<Node>;  // most recently used first

    size_t capacity_;
    int64_t ttlMs_;
    int64_t negativeTtlMs_;
    List lru_;
    std::unordered_map<std::string, List::iterator, Hash, std::equal_to<>> map_;
    uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace geopol::ldap_alias
