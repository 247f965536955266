// knobs.hpp - choices (chunk sizes, limits) derived from the fuzz input.
//
// Like libFuzzer's FuzzedDataProvider, the knobs are read from the end of
// the input, one byte at a time, so the input's head stays the payload and a
// seed file can be a plain Postfix request. Our own few lines rather than
// <fuzzer/FuzzedDataProvider.h>: the replay tests build the same targets
// with gcc, which does not ship that header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace geopol::fuzz {

class Knobs {
public:
    Knobs(const uint8_t *data, size_t size) : data_(data), left_(size) {}

    /// A value in [lo, hi]; `lo` once the input is used up. `hi - lo` must
    /// be below 2^32.
    uint64_t range(uint64_t lo, uint64_t hi)
    {
        uint64_t span = hi - lo;
        uint64_t v = 0;
        for (uint64_t seen = 0; seen < span && left_ > 0; seen = (seen << 8) | 0xff)
            v = (v << 8) | data_[--left_];
        return span == 0 ? lo : lo + v % (span + 1);
    }

    bool flag() { return range(0, 1) == 1; }

    /// True once every byte was used as a knob.
    bool exhausted() const { return left_ == 0; }

private:
    const uint8_t *data_;
    size_t left_;
};

}  // namespace geopol::fuzz
