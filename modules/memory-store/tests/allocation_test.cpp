// allocation_test.cpp - recording on a warm account allocates nothing.
//
// Replaces the global operator new of this test binary with a counting one;
// counting is off except inside the measured statements.
#include <doctest/doctest.h>

#include <cstdlib>
#include <new>

#include "memory_store.hpp"

namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

void *operator new(std::size_t n)
{
    if (counting)
        ++allocations;
    if (void *p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort uses them): each replaced new must
// pair with the replaced delete, or a sanitizer sees a mismatch.
void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    if (counting)
        ++allocations;
    return std::malloc(n ? n : 1);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}

using namespace geopol;
using namespace geopol::memory_store;

TEST_CASE("recording an IP and country the account already has allocates nothing")
{
    MemoryStore s;
    Observation o;
    o.account = "alice@example.com";
    o.ip = "2a00:1450:4001:80b::/64";  // longer than the small-string buffer
    o.country = "DE";
    s.recordNow(o);
    s.recordNow(o);
    StoreDone done = [](const StoreResult &) {};

    allocations = 0;
    counting = true;
    StoreResult r = s.recordNow(o);
    s.record(o, done);
    s.inspect("nobody@example.com", done);
    counting = false;

    CHECK(allocations == 0);
    CHECK(r.state.foreignIps == 1);
}
