// backoff.cpp - Backoff.
#include "backoff.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace geopol::redis_store {

Backoff::Backoff(uint64_t initialMs, uint64_t maxMs, Random random)
    : initialMs_(std::max<uint64_t>(initialMs, 1)), maxMs_(maxMs), random_(std::move(random))
{
    if (!random_) {
        auto engine = std::make_shared<std::minstd_rand>(std::random_device{}());
        random_ = [engine] { return std::uniform_real_distribution<double>(0, 1)(*engine); };
    }
}

uint64_t Backoff::next()
{
    uint64_t base = initialMs_;
    for (uint32_t i = 0; i < failures_ && base < maxMs_; ++i)
        base *= 2;
    base = std::min(base, maxMs_);
    ++failures_;
    double factor = 0.8 + 0.4 * random_();
    auto delay = static_cast<uint64_t>(static_cast<double>(base) * factor);
    return std::clamp<uint64_t>(delay, 1, maxMs_);
}

}  // namespace geopol::redis_store
