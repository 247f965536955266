// fuzz_check.hpp - invariant checks shared by the fuzz targets.
//
// A violated invariant must stop libFuzzer like a crash (so it saves the
// input) and fail the replay test in a normal build (no sanitizer there), so
// the check prints what broke and aborts; assert() would vanish under NDEBUG.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

// The entry point every target defines; the replay driver calls it too.
extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
