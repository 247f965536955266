// query_command_test.cpp - POST /query: request validation and response shape.
#include "query_command.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "fakes.hpp"
#include "geopol/ksuid.hpp"

using namespace geopol;
using namespace geopol::rest_admin;

namespace {

AdminRequest query(std::string body, std::string q = "")
{
    AdminRequest r;
    r.method = "POST";
    r.path = "/query";
    r.query = std::move(q);
    r.contentType = "application/json";
    r.body = std::move(body);
    return r;
}

const char *kReadme =
    R"({ "key": "client", "value": { "address": "1.2.3.4", "sender": "user@example.com" } })";

std::string refusal(const std::string &body)
{
    std::string error;
    auto in = parseQueryRequest(query(body), error);
    CHECK_FALSE(in);
    return error;
}

}  // namespace

TEST_CASE("the README's /query body is accepted")
{
    std::string error;
    auto in = parseQueryRequest(query(kReadme), error);
    REQUIRE_MESSAGE(in, error);
    CHECK(in->address == "1.2.3.4");
    CHECK(in->sender == "user@example.com");
    CHECK_FALSE(in->details);
    CHECK(parseQueryRequest(query(kReadme, "details=1"), error)->details);
    CHECK(parseQueryRequest(query(kReadme, "a=b&details=true"), error)->details);
    CHECK_FALSE(parseQueryRequest(query(kReadme, "details=0"), error)->details);
}

TEST_CASE("every malformed /query body is refused with a message naming the problem")
{
    CHECK(refusal(R"([1])").find("must be a JSON object") != std::string::npos);
    CHECK(refusal(R"({"key":"sender","value":{}})") ==
          "\"key\" must be \"client\", not string \"sender\"");
    CHECK(refusal(R"({"value":{}})") == "missing \"key\": it must be \"client\"");
    CHECK(refusal(R"({"key":"client"})").rfind("missing \"value\"", 0) == 0);
    CHECK(refusal(R"({"key":"client","value":"1.2.3.4"})").find("must be an object") !=
          std::string::npos);
    CHECK(refusal(R"({"key":"client","value":{"address":"1.2.3.4"}})") ==
          "missing \"value.sender\"");
    CHECK(refusal(R"({"key":"client","value":{"address":"1.2.3.4","sender":5}})") ==
          "\"value.sender\" must be a string, not number 5");
    CHECK(refusal(R"({"key":"client","value":{"address":"","sender":"a@b"}})") ==
          "\"value.address\" must not be empty");
    CHECK(refusal(R"({"key":"client","value":{"address":"1.2.3.4","sender":"a@b","x":1}})") ==
          "unknown key \"value.x\" (expected \"address\" and \"sender\")");
    CHECK(refusal(R"({"key":"client","value":{},"extra":true})") ==
          "unknown key \"extra\" (expected \"key\" and \"value\")");
}

TEST_CASE("guids are 27 base62 characters, unique, and carry the time like a KSUID")
{
    static const std::string kDigits =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        std::string id = geopol::newKsuid();
        REQUIRE(id.size() == 27);
        REQUIRE(id.find_first_not_of(kDigits) == std::string::npos);
        seen.insert(id);
        // Decode base62 into 20 big-endian bytes; the first 4 are seconds
        // since the KSUID epoch (2014-05-13T16:53:20Z).
        unsigned char num[20] = {};
        for (char c : id) {
            uint32_t carry = static_cast<uint32_t>(kDigits.find(c));
            for (int b = 19; b >= 0; --b) {
                uint32_t v = num[b] * 62u + carry;
                num[b] = static_cast<unsigned char>(v & 0xff);
                carry = v >> 8;
            }
            REQUIRE(carry == 0);
        }
        int64_t seconds = (int64_t(num[0]) << 24) | (int64_t(num[1]) << 16) |
                          (int64_t(num[2]) << 8) | int64_t(num[3]);
        int64_t now = static_cast<int64_t>(std::time(nullptr)) - 1400000000;
        CHECK(seconds <= now);
        CHECK(seconds >= now - 2);
    }
    CHECK(seen.size() == 200);
}

TEST_CASE("rejecting actions are told apart from accepting ones")
{
    CHECK(rejectingAction("REJECT Policy violation. Please contact your support"));
    CHECK(rejectingAction("reject"));
    CHECK(rejectingAction("DEFER Service temporarily not available"));
    CHECK(rejectingAction("554 5.7.1 no"));
    CHECK(rejectingAction("450 try later"));
    CHECK_FALSE(rejectingAction("DUNNO"));
    CHECK_FALSE(rejectingAction("OK"));
    CHECK_FALSE(rejectingAction("INFO Client IP address 10.0.0.1 is defined in ignore-networks"));
    CHECK_FALSE(rejectingAction("PREPEND X-Foo: 1"));
}

TEST_CASE("the compact response has the README's keys in the README's order")
{
    QueryInput in{"8.8.8.8", "a@example.com", false};
    QueryResult r;
    r.action = "DUNNO";
    std::string body = formatQueryResponse("2FOLGkYQwUB8XTQhdTY3csRkNV2", in, r);
    CHECK(
        body ==
        R"({"guid":"2FOLGkYQwUB8XTQhdTY3csRkNV2","object":"client","operation":"query","result":true})");
    r.action = "REJECT Policy violation. Please contact your support";
    r.facts.verdict.reject = true;
    CHECK(nlohmann::json::parse(formatQueryResponse("g", in, r))["result"] == false);
}

TEST_CASE("details add what the chain found")
{
    QueryInput in{"8.8.8.8", "A@example.com", true};
    QueryResult r;
    r.action = "DUNNO";
    r.facts.account = "a@example.com";
    r.facts.clientAddress = "8.8.8.8";
    r.facts.country = "US";
    Verdict &v = r.facts.verdict;
    v.evaluated = true;
    v.countries = 1;
    v.maxCountries = 3;
    v.ips = 2;
    v.maxIps = 10;
    v.seenCountries = {"US"};
    v.seenIps = {"8.8.4.4", "8.8.8.8"};
    auto j = nlohmann::json::parse(formatQueryResponse("g", in, r));
    CHECK(j["result"] == true);
    const auto &d = j["details"];
    CHECK(d["account"] == "a@example.com");
    CHECK(d["sender"] == "A@example.com");
    CHECK(d["country"] == "US");
    CHECK(d["ips"] == 2);
    CHECK(d["max_ips"] == 10);
    CHECK(d["seen_ips"] == nlohmann::json::array({"8.8.4.4", "8.8.8.8"}));
    CHECK(d["reason"] == "");
}

TEST_CASE("without the policy-query service the answer is 503, after validation")
{
    AdminResponse got;
    handleQuery(nullptr, query(kReadme), [&](AdminResponse r) { got = std::move(r); });
    CHECK(got.status == 503);
    handleQuery(nullptr, query("{"), [&](AdminResponse r) { got = std::move(r); });
    CHECK(got.status == 400);
}

TEST_CASE("the question reaches the chain as sender and sasl_username, and failures are 503")
{
    testing::FakeQuery q;
    q.result.action = "DUNNO";
    AdminResponse got;
    handleQuery(&q, query(kReadme), [&](AdminResponse r) { got = std::move(r); });
    CHECK(got.status == 202);
    CHECK(q.attribute("request") == "smtpd_access_policy");
    CHECK(q.attribute("client_address") == "1.2.3.4");
    CHECK(q.attribute("sender") == "user@example.com");
    CHECK(q.attribute("sasl_username") == "user@example.com");
    CHECK(q.modes.back() == QueryMode::WhatIf);

    q.result.failed = true;
    q.result.failure = "memory-store: out of memory";
    q.result.action = "DEFER Service temporarily not available";
    handleQuery(&q, query(kReadme), [&](AdminResponse r) { got = std::move(r); });
    CHECK(got.status == 503);
    CHECK(got.body.find("memory-store: out of memory") != std::string::npos);
}
