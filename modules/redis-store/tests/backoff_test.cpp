// backoff_test.cpp - reconnect delays.
#include "backoff.hpp"

#include <doctest/doctest.h>

using geopol::redis_store::Backoff;

TEST_CASE("doubles from the initial delay up to the cap, then stays there")
{
    Backoff b(100, 2000, [] { return 0.5; });  // factor 1.0: no jitter
    CHECK(b.next() == 100);
    CHECK(b.next() == 200);
    CHECK(b.next() == 400);
    CHECK(b.next() == 800);
    CHECK(b.next() == 1600);
    CHECK(b.next() == 2000);
    CHECK(b.next() == 2000);
    CHECK(b.failures() == 7);
    b.reset();
    CHECK(b.next() == 100);
}

TEST_CASE("jitter stays within 0.8x..1.2x and never exceeds the cap")
{
    double r = 0.0;
    Backoff b(100, 1000, [&] { return r; });
    CHECK(b.next() == 80);
    r = 0.999999;
    CHECK(b.next() >= 239);
    CHECK(b.next() <= 480);
    for (int i = 0; i < 10; ++i)
        CHECK(b.next() <= 1000);
}

TEST_CASE("the default random source keeps delays in range")
{
    Backoff b(100, 500);
    for (int i = 0; i < 50; ++i) {
        uint64_t d = b.next();
        CHECK(d >= 1);
        CHECK(d <= 500);
    }
}
