// ksuid.hpp - K-Sortable Unique IDentifiers, the reference's `guid` in its
// decision log lines and REST answers: 27 base62 digits of a 32-bit
// timestamp (seconds since 2014-05-13) and 128 random bits.
//
// The random bits identify, they protect nothing: a per-thread splitmix64
// seeded once from getrandom() is enough and keeps a system call off the
// per-request path.
#pragma once

#include <sys/random.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace geopol {

namespace ksuid_detail {

inline uint64_t nextRandom()
{
    thread_local uint64_t state = [] {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
            seed =
                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        return seed;
    }();
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace ksuid_detail

inline std::string newKsuid()
{
    constexpr int64_t kEpoch = 1400000000;  // KSUID's epoch
    unsigned char raw[20];
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto seconds = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(now).count() - kEpoch);
    raw[0] = static_cast<unsigned char>(seconds >> 24);
    raw[1] = static_cast<unsigned char>(seconds >> 16);
    raw[2] = static_cast<unsigned char>(seconds >> 8);
    raw[3] = static_cast<unsigned char>(seconds);
    uint64_t a = ksuid_detail::nextRandom(), b = ksuid_detail::nextRandom();
    std::memcpy(raw + 4, &a, 8);
    std::memcpy(raw + 12, &b, 8);
    // Base62 of the 160-bit big-endian number, left-padded to 27 digits.
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string out(27, '0');
    for (int pos = 26; pos >= 0; --pos) {
        uint32_t rem = 0;
        for (unsigned char &byte : raw) {
            uint32_t acc = (rem << 8) | byte;
            byte = static_cast<unsigned char>(acc / 62);
            rem = acc % 62;
        }
        out[static_cast<size_t>(pos)] = digits[rem];
    }
    return out;
}

}  // namespace geopol
