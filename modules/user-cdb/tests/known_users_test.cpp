// known_users_test.cpp - KnownUsers against CDB files made here with
// tinycdb's cdb_make: lookups, and every way a file can be refused.
#include "known_users.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "cdb_files.hpp"
#include "tests/support/module_fakes.hpp"

using geopol::Status;
using geopol::testing::TempDir;
using geopol::user_cdb::KnownUsers;
using geopol::user_cdb::Lookup;
using namespace geopol::user_cdb::test;

namespace {

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

const Records kSome = {
    {"alice@example.com", "1"},
    {"bob@example.com", ""},  // a key without value counts too
    {"Carol@Example.com", "1"},
};

}  // namespace

TEST_CASE("a listed account is found, whatever its value, and others are not")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), kSome);
    KnownUsers users;
    Status s = users.open(dir.file("users.cdb"));
    REQUIRE_MESSAGE(s, s.message());
    CHECK(users.isOpen());
    CHECK(users.path() == dir.file("users.cdb"));
    CHECK(users.sizeBytes() > 2048);

    CHECK(users.find("alice@example.com") == Lookup::Found);
    CHECK(users.find("bob@example.com") == Lookup::Found);
    CHECK(users.find("mallory@example.com") == Lookup::NotFound);
    CHECK(users.find("alice@example.co") == Lookup::NotFound);
    CHECK(users.find("alice@example.com ") == Lookup::NotFound);
    CHECK(users.find("") == Lookup::NotFound);
}

TEST_CASE("keys match byte for byte: a mixed-case key never matches a lower-case account")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), kSome);
    KnownUsers users;
    REQUIRE(users.open(dir.file("users.cdb")));
    // The core lower-cases accounts, so "Carol@Example.com" in the file is
    // unreachable; the README says to build the file in lower case.
    CHECK(users.find("carol@example.com") == Lookup::NotFound);
    CHECK(users.find("Carol@Example.com") == Lookup::Found);
    CHECK(users.find("ALICE@EXAMPLE.COM") == Lookup::NotFound);
}

TEST_CASE("an empty database opens and knows no one")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("empty.cdb"), {});
    KnownUsers users;
    Status s = users.open(dir.file("empty.cdb"));
    REQUIRE_MESSAGE(s, s.message());
    CHECK(users.sizeBytes() == 2048);
    CHECK(users.find("alice@example.com") == Lookup::NotFound);
}

TEST_CASE("many accounts are all found")
{
    TempDir dir("user-cdb");
    Records many;
    for (int i = 0; i < 5000; ++i)
        many.emplace_back("user" + std::to_string(i) + "@example.com", "");
    writeCdb(dir.file("many.cdb"), many);
    KnownUsers users;
    REQUIRE(users.open(dir.file("many.cdb")));
    int found = 0;
    for (const auto &[key, value] : many)
        found += users.find(key) == Lookup::Found;
    CHECK(found == 5000);
    CHECK(users.find("user5000@example.com") == Lookup::NotFound);
}

TEST_CASE("a missing file is refused, naming the file, the reason and the fix")
{
    TempDir dir("user-cdb");
    KnownUsers users;
    Status s = users.open(dir.file("nope.cdb"));
    REQUIRE_FALSE(s);
    CHECK_FALSE(users.isOpen());
    CHECK(contains(s.message(), "cannot open the known-users CDB " + dir.file("nope.cdb") +
                                    ": No such file or directory"));
    CHECK(contains(s.message(), "cdb -c -m " + dir.file("nope.cdb") + " < accounts.txt"));
    CHECK(contains(s.message(), "--cdb-path"));
    CHECK(users.find("alice@example.com") == Lookup::NotFound);
}

TEST_CASE("a directory is refused")
{
    TempDir dir("user-cdb");
    KnownUsers users;
    Status s = users.open(dir.path);
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "not a regular file"));
}

TEST_CASE("a file shorter than the CDB header is refused: empty, or a plain list")
{
    TempDir dir("user-cdb");
    KnownUsers users;
    writeBytes(dir.file("empty"), "");
    Status s = users.open(dir.file("empty"));
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "the file has 0 bytes, fewer than the 2048-byte header"));

    // The text the CDB is built from, given instead of the CDB.
    writeBytes(dir.file("accounts.txt"), "alice@example.com 1\nbob@example.com\n");
    s = users.open(dir.file("accounts.txt"));
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "(not a CDB file, or truncated)"));
}

TEST_CASE("a long text file, a file of zeros and one of 0xff bytes are refused by the header check")
{
    TempDir dir("user-cdb");
    KnownUsers users;
    std::string text;
    while (text.size() < 10000)
        text += "alice@example.com 1\n";
    writeBytes(dir.file("text"), text);
    Status s = users.open(dir.file("text"));
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "not a CDB file, or damaged or truncated (its records would end"));

    writeBytes(dir.file("zeros"), std::string(4096, '\0'));
    s = users.open(dir.file("zeros"));
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "not a CDB file, or damaged or truncated"));

    writeBytes(dir.file("ones"), std::string(4096, '\xff'));
    s = users.open(dir.file("ones"));
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "not a CDB file, or damaged or truncated"));
}

TEST_CASE("a truncated CDB file is refused at every cut")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("full.cdb"), kSome);
    const std::string full = readBytes(dir.file("full.cdb"));
    KnownUsers users;
    // Cut inside the records, inside the hash tables, and by a single byte.
    for (size_t size : {size_t{2048}, size_t{2060}, full.size() - 20, full.size() - 1}) {
        CAPTURE(size);
        writeBytes(dir.file("cut.cdb"), full.substr(0, size));
        Status s = users.open(dir.file("cut.cdb"));
        CHECK_FALSE(s);
        CHECK(contains(s.message(), "not a CDB file, or damaged or truncated"));
        CHECK_FALSE(users.isOpen());
    }
}

TEST_CASE("damage the header check cannot see makes the lookup report it, not guess")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), kSome);
    breakSlotOf(dir.file("users.cdb"), "alice@example.com");
    KnownUsers users;
    REQUIRE(users.open(dir.file("users.cdb")));
    CHECK(users.find("alice@example.com") == Lookup::Damaged);
}

TEST_CASE("open() replaces the file open before; a failed open leaves nothing open")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("a.cdb"), {{"alice@example.com", ""}});
    writeCdb(dir.file("b.cdb"), {{"bob@example.com", ""}});
    KnownUsers users;
    REQUIRE(users.open(dir.file("a.cdb")));
    REQUIRE(users.open(dir.file("b.cdb")));
    CHECK(users.find("alice@example.com") == Lookup::NotFound);
    CHECK(users.find("bob@example.com") == Lookup::Found);
    CHECK_FALSE(users.open(dir.file("missing.cdb")));
    CHECK_FALSE(users.isOpen());
    CHECK(users.path().empty());
    CHECK(users.find("bob@example.com") == Lookup::NotFound);
    users.close();
    users.close();  // harmless twice
}

TEST_CASE("a file renamed over the open one changes nothing for the open mapping")
{
    TempDir dir("user-cdb");
    writeCdb(dir.file("users.cdb"), {{"alice@example.com", ""}});
    KnownUsers running;
    REQUIRE(running.open(dir.file("users.cdb")));

    // What `cdb -c` does: build users.cdb.tmp, rename it over users.cdb.
    writeCdb(dir.file("users.cdb.tmp"), {{"bob@example.com", ""}});
    REQUIRE(std::rename(dir.file("users.cdb.tmp").c_str(), dir.file("users.cdb").c_str()) == 0);

    CHECK(running.find("alice@example.com") == Lookup::Found);
    CHECK(running.find("bob@example.com") == Lookup::NotFound);
    KnownUsers reloaded;
    REQUIRE(reloaded.open(dir.file("users.cdb")));
    CHECK(reloaded.find("alice@example.com") == Lookup::NotFound);
    CHECK(reloaded.find("bob@example.com") == Lookup::Found);
}
