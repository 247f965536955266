// The core's own services: admin command routing, metrics, what-if queries.
#include "chain/services.hpp"

#include <doctest/doctest.h>

#include "net/server.hpp"

using namespace geopol;
using namespace geopol::core;

namespace {

AdminResponse call(AdminTable &t, const std::string &method, const std::string &path)
{
    AdminResponse got{0, "", ""};
    AdminRequest req;
    req.method = method;
    req.path = path;
    t.dispatch(req, [&](AdminResponse r) { got = std::move(r); });
    return got;
}

}  // namespace

TEST_CASE("admin commands route by exact path and method, prefixes for paths ending in '/'")
{
    AdminTable t;
    t.add("GET", "/custom-settings", [](const AdminRequest &, AdminReply r) { r({200, "", "a"}); });
    t.add("POST", "/remove", [](const AdminRequest &, AdminReply r) { r({202, "", "unlock"}); });
    t.add("DELETE", "/remove", [](const AdminRequest &, AdminReply r) { r({202, "", "drop"}); });
    t.add("GET", "/account/", [](const AdminRequest &q, AdminReply r) {
        r({200, "", q.path.substr(9)});
    });

    CHECK(call(t, "GET", "/custom-settings").body == "a");
    CHECK(call(t, "POST", "/remove").body == "unlock");
    CHECK(call(t, "DELETE", "/remove").body == "drop");
    CHECK(call(t, "GET", "/account/alice@example.com").body == "alice@example.com");

    auto notFound = call(t, "GET", "/nothing");
    CHECK(notFound.status == 404);
    CHECK(notFound.body == "{\"error\":\"no such endpoint: /nothing\"}");
    CHECK(call(t, "GET", "/account/").status == 404);  // a prefix needs something after it

    auto wrongMethod = call(t, "PUT", "/remove");
    CHECK(wrongMethod.status == 405);
    CHECK(wrongMethod.body.find("allowed: DELETE, POST") != std::string::npos);
}

TEST_CASE("error bodies are valid JSON whatever the message holds")
{
    CHECK(adminErrorBody("bad \"json\"\n\\") == "{\"error\":\"bad \\\"json\\\"\\u000a\\\\\"}");
}

TEST_CASE(
    "error bodies stay UTF-8 when a message quotes bytes that are not (tests/fuzz/admin_body)")
{
    // A 404 quotes the decoded path, a 400 the Content-Type or the parser's
    // "last read" bytes: a client's bytes, UTF-8 or not.
    CHECK(adminErrorBody("no such endpoint: /\xff") ==
          "{\"error\":\"no such endpoint: /\\ufffd\"}");
    CHECK(adminErrorBody("us\xe9r") == "{\"error\":\"us\\ufffdr\"}");
    // Well-formed sequences are kept; overlong forms, surrogates, stray
    // continuation bytes and a truncated sequence are replaced byte by byte.
    CHECK(adminErrorBody("j\xc3\xb6rg \xe4\xbe\x8b \xf0\x9f\x98\x80") ==
          "{\"error\":\"j\xc3\xb6rg \xe4\xbe\x8b \xf0\x9f\x98\x80\"}");
    CHECK(adminErrorBody("\xc0\xaf") == "{\"error\":\"\\ufffd\\ufffd\"}");
    CHECK(adminErrorBody("\xed\xa0\x80") == "{\"error\":\"\\ufffd\\ufffd\\ufffd\"}");
    CHECK(adminErrorBody("\x80\"") == "{\"error\":\"\\ufffd\\\"\"}");
    CHECK(adminErrorBody("a\xe4\xbe") == "{\"error\":\"a\\ufffd\\ufffd\"}");
}

TEST_CASE("metrics sources render in order; health reports only the failing checks")
{
    MetricsTable m;
    m.addSource([](std::string &out) { out += "a 1\n"; });
    m.addSource([](std::string &out) { out += "b 2\n"; });
    std::string out;
    m.render(out);
    CHECK(out == "a 1\nb 2\n");
    bool redisUp = true;
    m.addHealthCheck("redis-store", [&] { return redisUp ? "" : "disconnected"; });
    m.addHealthCheck("geoip", [] { return std::string(); });
    CHECK(m.problems().empty());
    redisUp = false;
    CHECK(m.problems() == std::vector<std::string>{"redis-store: disconnected"});
}

TEST_CASE("request counters and the latency histogram render as Prometheus text")
{
    ServerStats s;
    s.count("DUNNO", 200'000);            // 0.2 ms
    s.count("REJECT Policy", 3'000'000);  // 3 ms
    s.count("DEFER x", 3'000'000);
    ServerStats other;
    other.count("DUNNO", 200'000);
    std::string out;
    ServerStats::render(out, {&s}, 7);
    std::string both;
    ServerStats::render(both, {&s, &other}, 7);
    CHECK(both.find("geopol_policy_requests_total{action=\"dunno\"} 2\n") != std::string::npos);
    CHECK(both.find("geopol_decision_seconds_count 4\n") != std::string::npos);
    CHECK(out.find("geopol_policy_requests_total{action=\"dunno\"} 1\n") != std::string::npos);
    CHECK(out.find("geopol_policy_requests_total{action=\"reject\"} 1\n") != std::string::npos);
    CHECK(out.find("geopol_connections 7\n") != std::string::npos);
    CHECK(out.find("geopol_decision_seconds_bucket{le=\"0.00025\"} 1\n") != std::string::npos);
    CHECK(out.find("geopol_decision_seconds_bucket{le=\"0.0025\"} 1\n") != std::string::npos);
    CHECK(out.find("geopol_decision_seconds_bucket{le=\"0.005\"} 3\n") != std::string::npos);
    CHECK(out.find("geopol_decision_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
    CHECK(out.find("geopol_decision_seconds_count 3\n") != std::string::npos);
}
