// result_cache.cpp
#include "result_cache.hpp"

namespace geopol::ldap_alias {

const CachedAnswer *ResultCache::find(std::string_view key, int64_t nowMs)
{
    auto it = map_.find(key);
    if (it == map_.end()) {
        ++misses_;
        return nullptr;
    }
    List::iterator node = it->second;
    if (nowMs >= node->expiresMs) {
        lru_.erase(node);
        map_.erase(it);
        ++misses_;
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, node);
    ++hits_;
    return &node->answer;
}

void ResultCache::put(std::string_view key, CachedAnswer answer, int64_t nowMs)
{
    int64_t ttl = answer.found ? ttlMs_ : negativeTtlMs_;
    if (capacity_ == 0 || ttl <= 0)
        return;
    auto it = map_.find(key);
    if (it != map_.end()) {
        it->second->answer = std::move(answer);
        it->second->expiresMs = nowMs + ttl;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    while (map_.size() >= capacity_) {
        // The oldest use goes first; an expired entry would have gone anyway.
        map_.erase(lru_.back().key);
        lru_.pop_back();
        ++evictions_;
    }
    lru_.push_front(Node{std::string(key), std::move(answer), nowMs + ttl});
    map_.emplace(lru_.front().key, lru_.begin());
}

void ResultCache::clear()
{
    map_.clear();
    lru_.clear();
}

}  // namespace geopol::ldap_alias
