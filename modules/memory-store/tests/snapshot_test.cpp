// snapshot_test.cpp - the state file: round trip, expiry at load, atomic
// replacement, corrupt and missing files.
#include "snapshot.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fakes.hpp"

using namespace geopol;
using namespace geopol::memory_store;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kSec = 1000;

Observation obs(std::string_view account, std::string_view ip, std::string_view country = "",
                bool home = false)
{
    Observation o;
    o.account = account;
    o.ip = ip;
    o.country = country;
    o.home = home;
    return o;
}

std::string readFile(const std::string &path)
{
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void writeFile(const std::string &path, const std::string &text)
{
    std::ofstream(path) << text;
}

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

size_t filesIn(const std::string &dir)
{
    size_t n = 0;
    for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator(dir))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("a snapshot round trip through a file keeps entries, home maps and blocks")
{
    testing::TempDir dir;
    int64_t now = kT0;
    Clock clock = [&] { return now; };
    StoreOptions opts;
    opts.ttlSeconds = 3600;
    MemoryStore a(opts, clock);
    a.recordNow(obs("alice@example.com", "8.8.8.8", "US"));
    a.recordNow(obs("alice@example.com", "217.160.0.1", "DE", true));
    a.recordNow(obs("bob@example.com", "2a00:1450:4001:80b::/64", "DE"));
    a.blockNow("bob@example.com");
    // names JSON must escape, and a byte that is not UTF-8
    a.recordNow(obs("we\"ird\\\n@example.com", "8.8.4.4"));
    a.recordNow(obs(std::string_view("l\xe4tin1@example.com"), "8.8.4.4"));
    StoreOptions perm = opts;
    perm.blockPermanent = true;
    a.setOptions(perm);
    a.recordNow(obs("carol@example.com", "81.2.69.142", "GB"));
    a.blockNow("carol@example.com");

    std::string path = dir.file("state.json");
    REQUIRE(writeFileAtomically(path, serializeSnapshot(a)));
    LoadResult loaded = loadSnapshot(path);
    REQUIRE_MESSAGE(loaded.error.empty(), loaded.error);
    CHECK(loaded.exists);
    CHECK(loaded.accounts.size() == 5);

    now = kT0 + 10 * kSec;  // restarted ten seconds later
    MemoryStore b(opts, clock);
    b.restore(std::move(loaded.accounts));
    CHECK(b.accountCount() == 5);

    StoreResult alice = b.inspectNow("alice@example.com");
    CHECK(alice.state.foreignIpList == std::vector<std::string>{"8.8.8.8"});
    CHECK(alice.state.foreignCountryList == std::vector<std::string>{"US"});
    CHECK(alice.state.homeIpList == std::vector<std::string>{"217.160.0.1"});
    CHECK(alice.state.homeCountryList == std::vector<std::string>{"DE"});
    CHECK(alice.state.ttlSeconds == 3590);  // last-seen times survive, not reset to now

    StoreResult bob = b.inspectNow("bob@example.com");
    CHECK(bob.state.block == BlockState::Temporary);
    CHECK(bob.state.blockTtlSeconds == 3590);
    CHECK(bob.state.foreignIpList == std::vector<std::string>{"2a00:1450:4001:80b::/64"});
    CHECK_FALSE(b.blockNow("bob@example.com").newly);

    CHECK(b.inspectNow("carol@example.com").state.block == BlockState::Permanent);
    CHECK(b.inspectNow("we\"ird\\\n@example.com").state.foreignIps == 1);
    CHECK(b.inspectNow("l\xef\xbf\xbdtin1@example.com").found);  // U+FFFD replaced the byte
}

TEST_CASE("entries already expired at load are dropped, permanent blocks are kept")
{
    int64_t now = kT0;
    Clock clock = [&] { return now; };
    StoreOptions opts;
    opts.ttlSeconds = 60;
    MemoryStore a(opts, clock);
    a.recordNow(obs("old@x", "8.8.8.8"));
    a.blockNow("blocked@x");
    now = kT0 + 30 * kSec;
    a.recordNow(obs("mixed@x", "8.8.8.8"));
    StoreOptions perm = opts;
    perm.blockPermanent = true;
    a.setOptions(perm);
    a.recordNow(obs("forever@x", "8.8.8.8"));
    a.blockNow("forever@x");

    LoadResult loaded = parseSnapshot(serializeSnapshot(a), "test");
    REQUIRE(loaded.error.empty());
    now = kT0 + 61 * kSec;
    MemoryStore b(opts, clock);
    b.restore(std::move(loaded.accounts));
    CHECK(b.accountCount() == 2);
    CHECK_FALSE(b.inspectNow("old@x").found);
    CHECK_FALSE(b.inspectNow("blocked@x").found);
    CHECK(b.inspectNow("mixed@x").state.foreignIps == 1);
    StoreResult forever = b.inspectNow("forever@x");
    CHECK(forever.state.block == BlockState::Permanent);
    CHECK(forever.state.foreignIps == 1);
}

TEST_CASE("restoring keeps recency, so the least recently seen is still evicted first")
{
    int64_t now = kT0;
    Clock clock = [&] { return now; };
    MemoryStore a(StoreOptions{}, clock);
    for (const char *name : {"c@x", "a@x", "b@x"}) {
        a.recordNow(obs(name, "8.8.8.8"));
        now += kSec;
    }
    LoadResult loaded = parseSnapshot(serializeSnapshot(a), "test");
    StoreOptions small;
    small.maxAccounts = 3;
    MemoryStore b(small, clock);
    b.restore(std::move(loaded.accounts));
    b.recordNow(obs("d@x", "8.8.8.8"));
    CHECK_FALSE(b.inspectNow("c@x").found);
    CHECK(b.inspectNow("a@x").found);
}

TEST_CASE("the state file is replaced by rename, never rewritten in place")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");
    REQUIRE(writeFileAtomically(path, "first\n"));
    // A hard link keeps the old inode reachable: an in-place rewrite would change it.
    std::string link = dir.file("old-link");
    REQUIRE(::link(path.c_str(), link.c_str()) == 0);
    REQUIRE(writeFileAtomically(path, "second\n"));
    CHECK(readFile(path) == "second\n");
    CHECK(readFile(link) == "first\n");
    CHECK(filesIn(dir.path) == 2);  // no temporary file left behind

    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);  // it names accounts and addresses
}

TEST_CASE("a failed write leaves no temporary file and names the file")
{
    testing::TempDir dir;
    // The target is a non-empty directory: the final rename must fail.
    std::string path = dir.file("state.json");
    std::filesystem::create_directory(path);
    writeFile(path + "/keep", "x");
    Status s = writeFileAtomically(path, "data");
    CHECK_FALSE(s);
    CHECK(contains(s.message(), path));
    CHECK(filesIn(dir.path) == 1);

    Status nodir = writeFileAtomically(dir.file("missing/state.json"), "data");
    CHECK_FALSE(nodir);
    CHECK(contains(nodir.message(), dir.file("missing/state.json")));
}

TEST_CASE("a corrupt state file is an error naming the file")
{
    testing::TempDir dir;
    std::string path = dir.file("state.json");

    writeFile(path, "{\"format\":\"geopol-memory-store\",\"version\":1,\"accounts\":{");
    LoadResult truncated = loadSnapshot(path);
    CHECK(truncated.exists);
    CHECK(contains(truncated.error, path));
    CHECK(contains(truncated.error, "corrupt"));
    CHECK(truncated.accounts.empty());

    writeFile(path, "{\"hello\":1}");
    CHECK(contains(loadSnapshot(path).error, "not a geopol memory-store state file"));

    writeFile(path, R"({"format":"geopol-memory-store","version":1,"accounts":)"
                    R"({"a@x":{"foreignIps":{"8.8.8.8":"yesterday"}}}})");
    LoadResult badTime = loadSnapshot(path);
    CHECK(contains(badTime.error, "a@x"));
    CHECK(contains(badTime.error, "8.8.8.8"));

    writeFile(path, R"({"format":"geopol-memory-store","version":1,"accounts":)"
                    R"({"a@x":{"block":"forever"}}})");
    CHECK(contains(loadSnapshot(path).error, "\"block\""));

    writeFile(path, R"({"format":"geopol-memory-store","version":2,"accounts":{}})");
    CHECK(contains(loadSnapshot(path).error, "version"));
}

TEST_CASE("a missing state file is not an error")
{
    LoadResult r = loadSnapshot("/nonexistent-geopol-dir/state.json");
    CHECK_FALSE(r.exists);
    CHECK(r.error.empty());
    CHECK(r.accounts.empty());
}
