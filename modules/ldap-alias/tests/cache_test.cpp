// cache_test.cpp - the result cache, with the clock driven by the test.
#include <doctest/doctest.h>

#include "result_cache.hpp"

using namespace geopol::ldap_alias;

namespace {

CachedAnswer found(const char *account)
{
    return CachedAnswer{true, account};
}

CachedAnswer notFound()
{
    return CachedAnswer{false, {}};
}

}  // namespace

TEST_CASE("an answer is served until its TTL, then forgotten")
{
    ResultCache c(100, 300'000, 60'000);
    int64_t t = 1'000'000;
    CHECK(c.find("foo@bar.org", t) == nullptr);
    c.put("foo@bar.org", found("unique@account.net"), t);
    const CachedAnswer *a = c.find("foo@bar.org", t + 1);
    REQUIRE(a != nullptr);
    CHECK(a->found);
    CHECK(a->account == "unique@account.net");
    CHECK(c.find("foo@bar.org", t + 299'999) != nullptr);
    CHECK(c.find("foo@bar.org", t + 300'000) == nullptr);  // expired exactly at the TTL
    CHECK(c.size() == 0);                                  // and dropped
    CHECK(c.hits() == 2);
    CHECK(c.misses() == 2);
}

TEST_CASE("not found has its own, shorter TTL")
{
    ResultCache c(100, 300'000, 60'000);
    c.put("nobody@example.com", notFound(), 0);
    const CachedAnswer *a = c.find("nobody@example.com", 59'999);
    REQUIRE(a != nullptr);
    CHECK_FALSE(a->found);
    CHECK(c.find("nobody@example.com", 60'000) == nullptr);
}

TEST_CASE("a TTL of 0 keeps that kind of answer out")
{
    ResultCache positiveOnly(100, 1000, 0);
    positiveOnly.put("a", notFound(), 0);
    CHECK(positiveOnly.size() == 0);
    positiveOnly.put("b", found("x"), 0);
    CHECK(positiveOnly.size() == 1);

    ResultCache negativeOnly(100, 0, 1000);
    negativeOnly.put("b", found("x"), 0);
    CHECK(negativeOnly.size() == 0);
}

TEST_CASE("capacity 0 turns the cache off")
{
    ResultCache c(0, 300'000, 60'000);
    c.put("a", found("x"), 0);
    CHECK(c.find("a", 1) == nullptr);
    CHECK(c.size() == 0);
}

TEST_CASE("a full cache evicts the least recently used entry")
{
    ResultCache c(2, 300'000, 60'000);
    c.put("a", found("1"), 0);
    c.put("b", found("2"), 1);
    REQUIRE(c.find("a", 2) != nullptr);  // a is now the most recently used
    c.put("c", found("3"), 3);
    CHECK(c.size() == 2);
    CHECK(c.evictions() == 1);
    CHECK(c.find("b", 4) == nullptr);
    CHECK(c.find("a", 4) != nullptr);
    CHECK(c.find("c", 4) != nullptr);
}

TEST_CASE("a new answer replaces the old one and restarts its TTL")
{
    ResultCache c(10, 1000, 500);
    c.put("a", found("old"), 0);
    c.put("a", found("new"), 900);
    const CachedAnswer *a = c.find("a", 1500);
    REQUIRE(a != nullptr);
    CHECK(a->account == "new");
    c.put("a", notFound(), 1600);  // the alias was removed from the directory
    a = c.find("a", 1700);
    REQUIRE(a != nullptr);
    CHECK_FALSE(a->found);
    CHECK(c.find("a", 2100) == nullptr);
    CHECK(c.size() == 0);
}

TEST_CASE("clear forgets everything")
{
    ResultCache c(10, 1000, 1000);
    c.put("a", found("1"), 0);
    c.put("b", notFound(), 0);
    c.clear();
    CHECK(c.size() == 0);
    CHECK(c.find("a", 1) == nullptr);
}
