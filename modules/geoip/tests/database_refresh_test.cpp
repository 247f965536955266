// database_refresh_test.cpp - DatabaseRefresh on a real libuv loop with the
// real GeoLite2 files: a file renamed over the database is picked up, a
// broken or missing one is refused once and the old one stays in use.
#include "database_refresh.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "test_data.hpp"
#include "tests/support/module_fakes.hpp"

using geopol::geoip::DatabaseRefresh;
using geopol::geoip::GeoDatabase;
using geopol::geoip::test::cityDb;
using geopol::geoip::test::copyFile;
using geopol::geoip::test::countryDb;
using geopol::testing::TempDir;

namespace {

constexpr int64_t kIntervalMs = 20;

/// A loop, a database file in a temp dir, the database opened from it, and
/// the refresh's callbacks recorded.
struct Rig {
    geopol::testing::Loop loop;
    TempDir dir{"geoip-refresh"};
    std::string path = dir.file("db.mmdb");
    std::unique_ptr<GeoDatabase> current = std::make_unique<GeoDatabase>();
    DatabaseRefresh refresh;
    int swaps = 0;
    int refusals = 0;
    std::string lastError;

    explicit Rig(const std::string &initial)
    {
        copyFile(initial, path);
        REQUIRE(current->open(path).isOk());
        refresh.start(
            loop.get(), kIntervalMs, *current,
            [this](std::unique_ptr<GeoDatabase> fresh) {
                ++swaps;
                current = std::move(fresh);
                refresh.adopt(*current);
            },
            [this](const std::string &error) {
                ++refusals;
                lastError = error;
            });
    }
    // The loop's destructor closes the timer and waits for a check in
    // flight, and fails the test if a handle is left.
    ~Rig() { refresh.stop(); }

    bool runUntil(const std::function<bool()> &done) { return loop.runUntil(done); }
    void runTicks(int ticks) { loop.runFor(ticks * kIntervalMs); }

    /// Puts a file at the database path the way geoipupdate does: a new
    /// file renamed over the old one.
    void replaceWith(const std::string &from)
    {
        copyFile(from, path + ".new");
        REQUIRE(std::rename((path + ".new").c_str(), path.c_str()) == 0);
    }
    void replaceWithText(const std::string &text)
    {
        std::ofstream(path + ".new", std::ios::binary) << text;
        REQUIRE(std::rename((path + ".new").c_str(), path.c_str()) == 0);
    }
};

}  // namespace

TEST_CASE("an unchanged file is left alone")
{
    Rig rig(countryDb());
    const void *mapping = rig.current->mappingId();
    rig.runTicks(10);
    CHECK(rig.swaps == 0);
    CHECK(rig.refusals == 0);
    CHECK(rig.current->mappingId() == mapping);
}

TEST_CASE("a database renamed over the file is mapped and handed over")
{
    Rig rig(countryDb());
    REQUIRE(rig.current->type() == "GeoLite2-Country");
    rig.replaceWith(cityDb());
    REQUIRE(rig.runUntil([&] { return rig.swaps == 1; }));
    CHECK(rig.current->type() == "GeoLite2-City");
    CHECK(rig.current->path() == rig.path);
    // Adopted: the next ticks compare against the new file and do nothing.
    rig.runTicks(10);
    CHECK(rig.swaps == 1);
    CHECK(rig.refusals == 0);
}

TEST_CASE("a broken file is refused once, the old database stays, a good one is taken later")
{
    Rig rig(countryDb());
    const void *mapping = rig.current->mappingId();
    rig.replaceWithText("this is not a MaxMind DB file\n");
    REQUIRE(rig.runUntil([&] { return rig.refusals == 1; }));
    CHECK(rig.lastError.find(rig.path) != std::string::npos);
    CHECK(rig.lastError.find("not a MaxMind DB") != std::string::npos);
    // Not again for the same file: one error line, not one per interval.
    rig.runTicks(10);
    CHECK(rig.refusals == 1);
    CHECK(rig.swaps == 0);
    CHECK(rig.current->mappingId() == mapping);
    CHECK(rig.current->type() == "GeoLite2-Country");

    rig.replaceWith(cityDb());
    REQUIRE(rig.runUntil([&] { return rig.swaps == 1; }));
    CHECK(rig.current->type() == "GeoLite2-City");
    CHECK(rig.refusals == 1);
}

TEST_CASE("a missing file is refused once and taken again when it is back")
{
    Rig rig(countryDb());
    REQUIRE(std::remove(rig.path.c_str()) == 0);
    REQUIRE(rig.runUntil([&] { return rig.refusals == 1; }));
    CHECK(rig.lastError.find("cannot open GeoIP database") != std::string::npos);
    rig.runTicks(10);
    CHECK(rig.refusals == 1);
    CHECK(rig.current->type() == "GeoLite2-Country");

    rig.replaceWith(cityDb());
    REQUIRE(rig.runUntil([&] { return rig.swaps == 1; }));
    CHECK(rig.current->type() == "GeoLite2-City");
}

TEST_CASE("after stop() no callback runs, even for a check already in flight")
{
    Rig rig(countryDb());
    rig.replaceWith(cityDb());
    // Stop just after the first tick has queued a check: the thread pool
    // finishes it, and its result must be dropped (ASan would report a use
    // after free, and the swap count would move).
    struct Stopper {
        Rig *rig;
        int swapsAtStop = -1;
    } stopper{&rig};
    uv_timer_t timer;
    uv_timer_init(rig.loop.get(), &timer);
    timer.data = &stopper;
    uv_timer_start(
        &timer,
        [](uv_timer_t *t) {
            auto *s = static_cast<Stopper *>(t->data);
            s->rig->refresh.stop();
            s->swapsAtStop = s->rig->swaps;
            uv_close(reinterpret_cast<uv_handle_t *>(t), nullptr);
        },
        kIntervalMs + 1, 0);
    // Returns once the timer, the refresh and the check are done.
    uv_run(rig.loop.get(), UV_RUN_DEFAULT);
    REQUIRE(stopper.swapsAtStop >= 0);
    CHECK(rig.swaps == stopper.swapsAtStop);
    CHECK(rig.refusals == 0);
}
