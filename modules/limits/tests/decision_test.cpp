// decision_test.cpp - the pure rules: effective policy, what is recorded, the decision.
#include "decision.hpp"

#include <doctest/doctest.h>

using namespace geopol;
using namespace geopol::limits;

namespace {

Facts makeFacts(std::string_view address, std::string_view country = "")
{
    Facts f;
    f.account = "alice@example.com";
    f.clientAddress = address;
    if (auto ip = IpAddress::parse(address)) {
        f.clientValid = true;
        f.client = *ip;
        f.addressClass = ip->classify();
    }
    if (!country.empty()) {
        f.located = true;
        f.country = country;
    }
    return f;
}

AccountState counts(uint32_t countries, uint32_t ips, uint32_t homeCountries = 0,
                    uint32_t homeIps = 0)
{
    AccountState s;
    s.foreignCountries = countries;
    s.foreignIps = ips;
    s.homeCountries = homeCountries;
    s.homeIps = homeIps;
    return s;
}

CustomEntry parseEntry(const char *json)
{
    auto r = CustomSettings::parse(std::string("{\"data\":[") + json + "]}", "test.json");
    REQUIRE_MESSAGE(r.settings, r.error);
    return r.settings->entries().at(0);
}

const Limits kDefaults;

}  // namespace

TEST_CASE("the defaults allow 3 foreign countries, 10 foreign IPs, 3 home countries, 10 home IPs")
{
    Settings s;
    Policy p = effectivePolicy(s, nullptr);
    CHECK(p.limits.maxCountries == 3);
    CHECK(p.limits.maxIps == 10);
    CHECK(p.limits.maxHomeCountries == 3);
    CHECK(p.limits.maxHomeIps == 10);
    CHECK(p.homeCountries->empty());
    CHECK(p.trustedCountries->empty());
    CHECK(p.trustedIps->empty());
}

TEST_CASE("a request within every limit is accepted")
{
    Decision d = decide(counts(1, 1), kDefaults, {});
    CHECK_FALSE(d.reject);
    CHECK(d.reason == Reason::None);
    CHECK(std::string(reasonName(d.reason)).empty());
}

TEST_CASE("each limit passes at exactly its maximum and rejects one above it")
{
    Limits l;
    l.maxCountries = 2;
    l.maxIps = 3;
    l.maxHomeCountries = 4;
    l.maxHomeIps = 5;

    SUBCASE("foreign countries")
    {
        CHECK_FALSE(decide(counts(2, 1), l, {}).reject);
        Decision d = decide(counts(3, 1), l, {});
        CHECK(d.reject);
        CHECK(std::string(reasonName(d.reason)) == "countries");
    }
    SUBCASE("foreign IPs: the 3rd IP passes, the 4th rejects")
    {
        CHECK_FALSE(decide(counts(1, 3), l, {}).reject);
        Decision d = decide(counts(1, 4), l, {});
        CHECK(d.reject);
        CHECK(std::string(reasonName(d.reason)) == "ips");
    }
    SUBCASE("home countries")
    {
        CHECK_FALSE(decide(counts(0, 0, 4, 1), l, {}).reject);
        Decision d = decide(counts(0, 0, 5, 1), l, {});
        CHECK(d.reject);
        CHECK(std::string(reasonName(d.reason)) == "home-countries");
    }
    SUBCASE("home IPs")
    {
        CHECK_FALSE(decide(counts(0, 0, 1, 5), l, {}).reject);
        Decision d = decide(counts(0, 0, 1, 6), l, {});
        CHECK(d.reject);
        CHECK(std::string(reasonName(d.reason)) == "home-ips");
    }
}

TEST_CASE("a maximum of 0 rejects the first country or IP")
{
    Limits l;
    l.maxCountries = 0;
    CHECK(decide(counts(1, 1), l, {}).reason == Reason::Countries);
    Limits m;
    m.maxIps = 0;
    CHECK(decide(counts(0, 1), m, {}).reason == Reason::Ips);
    CHECK_FALSE(decide(counts(0, 0), m, {}).reject);
}

TEST_CASE("home counts never count toward the foreign limits and vice versa")
{
    Limits l;
    l.maxIps = 2;
    l.maxCountries = 1;
    l.maxHomeIps = 20;
    l.maxHomeCountries = 5;
    CHECK_FALSE(decide(counts(1, 2, 5, 20), l, {}).reject);
}

TEST_CASE("a blocked account is rejected whatever its counts, temporary or permanent")
{
    AccountState s = counts(0, 0);
    s.block = BlockState::Temporary;
    Decision d = decide(s, kDefaults, {});
    CHECK(d.reject);
    CHECK(std::string(reasonName(d.reason)) == "blocked");
    s.block = BlockState::Permanent;
    CHECK(decide(s, kDefaults, {}).reason == Reason::Blocked);
    // "blocked" wins over a limit that also fires
    AccountState over = counts(9, 99);
    over.block = BlockState::Temporary;
    CHECK(decide(over, kDefaults, {}).reason == Reason::Blocked);
}

TEST_CASE("the counts are checked even when the current address has no country")
{
    // The reference skipped the country rule then (bug 10.7).
    Settings settings;
    Plan plan = planRequest(makeFacts("10.1.2.3"), effectivePolicy(settings, nullptr), {});
    CHECK(plan.country.empty());
    CHECK(decide(counts(4, 1), kDefaults, plan.trust).reason == Reason::Countries);
}

TEST_CASE("a located public client records its IP and country as foreign by default")
{
    Settings settings;
    Plan plan = planRequest(makeFacts("8.8.8.8", "US"), effectivePolicy(settings, nullptr), {});
    CHECK(plan.ipKey == "8.8.8.8");
    CHECK(plan.country == "US");
    CHECK_FALSE(plan.home);
    CHECK_FALSE(plan.trust.untrustedCountry);
    CHECK_FALSE(plan.trust.untrustedIp);
}

TEST_CASE("a country in the home list is recorded as home, others as foreign")
{
    Settings settings;
    settings.homeCountries = {"DE", "AT"};
    Policy p = effectivePolicy(settings, nullptr);
    CHECK(planRequest(makeFacts("217.160.0.1", "DE"), p, {}).home);
    CHECK_FALSE(planRequest(makeFacts("8.8.8.8", "US"), p, {}).home);
    // no country: never home, the IP counts as foreign
    Plan none = planRequest(makeFacts("10.0.0.1"), p, {});
    CHECK_FALSE(none.home);
    CHECK(none.ipKey == "10.0.0.1");
}

TEST_CASE("the country is recorded only when geoip placed the address")
{
    Settings settings;
    Facts f = makeFacts("8.8.8.8", "US");
    f.located = false;
    CHECK(planRequest(f, effectivePolicy(settings, nullptr), {}).country.empty());
}

TEST_CASE("IPv6 clients are counted per /64 network unless configured otherwise")
{
    Settings settings;
    Policy p = effectivePolicy(settings, nullptr);
    CountingOptions c;
    std::string a = planRequest(makeFacts("2a00:1450:4001:80b::200e"), p, c).ipKey;
    std::string b = planRequest(makeFacts("2a00:1450:4001:80b:1:2:3:4"), p, c).ipKey;
    std::string other = planRequest(makeFacts("2a00:1450:4001:80c::1"), p, c).ipKey;
    CHECK(a == "2a00:1450:4001:80b::/64");
    CHECK(a == b);
    CHECK(a != other);

    c.ipv6Prefix = 128;
    CHECK(planRequest(makeFacts("2a00:1450:4001:80b::200e"), p, c).ipKey !=
          planRequest(makeFacts("2a00:1450:4001:80b:1:2:3:4"), p, c).ipKey);
}

TEST_CASE("an IPv4 address and its v4-mapped IPv6 spelling count as one IP")
{
    Settings settings;
    Policy p = effectivePolicy(settings, nullptr);
    CHECK(planRequest(makeFacts("::ffff:8.8.8.8"), p, {}).ipKey == "8.8.8.8");
}

TEST_CASE("unplaceable addresses count as IPs unless count-unplaceable-ips is off")
{
    Settings settings;
    Policy p = effectivePolicy(settings, nullptr);
    CountingOptions on;
    CountingOptions off;
    off.countUnplaceable = false;
    for (const char *addr : {"10.0.0.1", "127.0.0.1", "192.0.2.5", "100.64.0.1", "fd00::1"}) {
        CAPTURE(addr);
        CHECK_FALSE(planRequest(makeFacts(addr), p, on).ipKey.empty());
        CHECK(planRequest(makeFacts(addr), p, off).ipKey.empty());
    }
    // A public address counts either way.
    CHECK(planRequest(makeFacts("8.8.8.8"), p, off).ipKey == "8.8.8.8");
}

TEST_CASE("a client address that is not an IP is never counted")
{
    Settings settings;
    Policy p = effectivePolicy(settings, nullptr);
    CountingOptions on;
    Facts f = makeFacts("unknown");
    CHECK_FALSE(f.clientValid);
    CHECK(planRequest(f, p, on).ipKey.empty());
}

TEST_CASE("custom ips and countries override the defaults only when greater than 0")
{
    Settings settings;
    CustomEntry both = parseEntry(R"({"sender":"a@x","ips":5,"countries":2})");
    Policy p = effectivePolicy(settings, &both);
    CHECK(p.limits.maxIps == 5);
    CHECK(p.limits.maxCountries == 2);

    CustomEntry zero = parseEntry(R"({"sender":"a@x","ips":0,"countries":4})");
    p = effectivePolicy(settings, &zero);
    CHECK(p.limits.maxIps == 10);
    CHECK(p.limits.maxCountries == 4);

    CustomEntry missing = parseEntry(R"({"sender":"a@x","ips":30})");
    p = effectivePolicy(settings, &missing);
    CHECK(p.limits.maxIps == 30);
    CHECK(p.limits.maxCountries == 3);
    // home limits are untouched by ips/countries
    CHECK(p.limits.maxHomeIps == 10);
    CHECK(p.limits.maxHomeCountries == 3);
}

TEST_CASE("a custom home_countries block replaces the home list and home limits when it has codes")
{
    Settings settings;
    settings.homeCountries = {"DE"};
    CustomEntry e = parseEntry(
        R"({"sender":"a@x","home_countries":{"codes":["fr","BE"],"ips":20,"countries":0}})");
    Policy p = effectivePolicy(settings, &e);
    CHECK(*p.homeCountries == std::vector<std::string>{"FR", "BE"});
    CHECK(p.limits.maxHomeIps == 20);
    CHECK(p.limits.maxHomeCountries == 3);  // 0 keeps the default
    CHECK(planRequest(makeFacts("81.2.69.142", "FR"), p, {}).home);
    CHECK_FALSE(planRequest(makeFacts("217.160.0.1", "DE"), p, {}).home);

    CustomEntry noCodes =
        parseEntry(R"({"sender":"a@x","home_countries":{"codes":[],"ips":20,"countries":9}})");
    p = effectivePolicy(settings, &noCodes);
    CHECK(*p.homeCountries == std::vector<std::string>{"DE"});
    CHECK(p.limits.maxHomeIps == 10);
    CHECK(p.limits.maxHomeCountries == 3);
}

TEST_CASE("a trusted country passes and is not recorded")
{
    Settings settings;
    CustomEntry e = parseEntry(R"({"sender":"a@x","trusted_countries":["de","AT"]})");
    Policy p = effectivePolicy(settings, &e);
    Plan plan = planRequest(makeFacts("217.160.0.1", "DE"), p, {});
    CHECK(plan.country.empty());
    CHECK(plan.ipKey == "217.160.0.1");  // the IP still counts
    CHECK_FALSE(plan.trust.untrustedCountry);
    CHECK_FALSE(decide(counts(0, 1), p.limits, plan.trust).reject);
}

TEST_CASE("a country outside the trusted list is a trusted-countries violation")
{
    Settings settings;
    CustomEntry e = parseEntry(R"({"sender":"a@x","trusted_countries":["DE"]})");
    Policy p = effectivePolicy(settings, &e);
    Plan plan = planRequest(makeFacts("8.8.8.8", "US"), p, {});
    CHECK(plan.trust.untrustedCountry);
    CHECK(plan.country == "US");  // recorded, so the admin sees where it came from
    Decision d = decide(counts(1, 1), p.limits, plan.trust);
    CHECK(d.reject);
    CHECK(std::string(reasonName(d.reason)) == "trusted-countries");
}

TEST_CASE("the trusted-countries rule is skipped when the address has no country")
{
    Settings settings;
    CustomEntry e = parseEntry(R"({"sender":"a@x","trusted_countries":["DE"]})");
    Policy p = effectivePolicy(settings, &e);
    Plan plan = planRequest(makeFacts("10.0.0.1"), p, {});
    CHECK_FALSE(plan.trust.untrustedCountry);
    CHECK_FALSE(decide(counts(0, 1), p.limits, plan.trust).reject);
}

TEST_CASE("a client inside a trusted IP or network passes and its IP is not recorded")
{
    Settings settings;
    CustomEntry e =
        parseEntry(R"({"sender":"a@x","trusted_ips":["8.8.8.8","10.0.0.0/8","2a00:1450::/32"]})");
    Policy p = effectivePolicy(settings, &e);
    for (const char *addr : {"8.8.8.8", "10.200.0.1", "2a00:1450:4001:80b::200e"}) {
        CAPTURE(addr);
        Plan plan = planRequest(makeFacts(addr, "US"), p, {});
        CHECK(plan.ipKey.empty());
        CHECK_FALSE(plan.trust.untrustedIp);
        CHECK(plan.country == "US");  // the country still counts
    }
}

TEST_CASE("a client outside the trusted IPs is a trusted-ips violation")
{
    Settings settings;
    CustomEntry e = parseEntry(R"({"sender":"a@x","trusted_ips":["10.0.0.0/8"]})");
    Policy p = effectivePolicy(settings, &e);
    Plan plan = planRequest(makeFacts("8.8.4.4", "US"), p, {});
    CHECK(plan.trust.untrustedIp);
    CHECK(plan.ipKey == "8.8.4.4");
    Decision d = decide(counts(1, 1), p.limits, plan.trust);
    CHECK(std::string(reasonName(d.reason)) == "trusted-ips");

    // an address that is not an IP cannot be shown to be trusted
    CHECK(planRequest(makeFacts("unknown"), p, {}).trust.untrustedIp);
}

TEST_CASE("with both trusted lists a client must match both")
{
    Settings settings;
    CustomEntry e = parseEntry(
        R"({"sender":"a@x","trusted_countries":["DE"],"trusted_ips":["217.160.0.0/16"]})");
    Policy p = effectivePolicy(settings, &e);
    Plan good = planRequest(makeFacts("217.160.0.1", "DE"), p, {});
    CHECK_FALSE(decide(counts(0, 0), p.limits, good.trust).reject);
    CHECK(good.ipKey.empty());
    CHECK(good.country.empty());
    Plan wrongIp = planRequest(makeFacts("193.99.144.80", "DE"), p, {});
    CHECK(decide(counts(0, 1), p.limits, wrongIp.trust).reason == Reason::TrustedIps);
}

TEST_CASE("a dry run counts the request's IP and country only if they are new")
{
    AccountState s;
    s.foreignIps = 1;
    s.foreignIpList = {"8.8.8.8"};
    s.foreignCountries = 1;
    s.foreignCountryList = {"US"};
    Plan known;
    known.ipKey = "8.8.8.8";
    known.country = "US";
    AccountState same = projectRecord(s, known);
    CHECK(same.foreignIps == 1);
    CHECK(same.foreignCountries == 1);

    Plan fresh;
    fresh.ipKey = "81.2.69.142";
    fresh.country = "GB";
    AccountState more = projectRecord(s, fresh);
    CHECK(more.foreignIps == 2);
    CHECK(more.foreignCountries == 2);
    CHECK(more.foreignCountryList == std::vector<std::string>{"US", "GB"});

    Plan home = fresh;
    home.home = true;
    AccountState h = projectRecord(s, home);
    CHECK(h.foreignIps == 1);
    CHECK(h.homeIps == 1);
    CHECK(h.homeCountries == 1);
}
