// dovecot_policy_test.cpp - POST /dovecotpolicy: what Dovecot sends is read,
// what it must not send is refused, and the answers are the reference's.
#include "dovecot_policy.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"

using namespace geopol;
using namespace geopol::rest_admin;

namespace {

// What Dovecot 2.3.19 sends with the default auth_policy_request_attributes
// (taken from its auth_debug log): before and after the password check ...
const char *kAllowBody =
    R"({"device_id":"","login":"alice@example.com","protocol":"imap","pwhash":"03a3",)"
    R"("remote":"81.2.69.142","session_id":"gG34jbxhNIlRAkWO","tls":false})";
// ... and when it reports the outcome.
const char *kReportBody =
    R"({"device_id":"","login":"alice@example.com","protocol":"imap","pwhash":"0336",)"
    R"("remote":"8.8.8.8","session_id":"53L5jbxhPIkICAgI","success":false,)"
    R"("policy_reject":false,"tls":false})";

AdminRequest post(std::string query, std::string body, std::string contentType = "application/json")
{
    AdminRequest r;
    r.method = "POST";
    r.path = "/dovecotpolicy";
    r.query = std::move(query);
    r.contentType = std::move(contentType);
    r.body = std::move(body);
    return r;
}

std::string refusal(const AdminRequest &req)
{
    std::string error;
    auto in = parseDovecotPolicyRequest(req, error);
    CHECK_FALSE(in);
    return error;
}

std::string allowRefusal(const std::string &body)
{
    return refusal(post("command=allow", body));
}

QueryResult answered(std::string action, bool reject = false)
{
    QueryResult r;
    r.action = std::move(action);
    r.facts.verdict.reject = reject;
    return r;
}

}  // namespace

TEST_CASE("Dovecot's allow request is read: remote and login, every other key ignored")
{
    std::string error;
    auto in = parseDovecotPolicyRequest(post("command=allow", kAllowBody), error);
    REQUIRE_MESSAGE(in, error);
    CHECK(in->command == DovecotCommand::Allow);
    CHECK(in->remote == "81.2.69.142");
    CHECK(in->login == "alice@example.com");
    CHECK_FALSE(in->failedLogin);

    // Text after the object is ignored as for every JSON endpoint, and any
    // Content-Type parameter is fine.
    in = parseDovecotPolicyRequest(
        post("command=allow", R"({"remote":"8.8.8.8","login":"a@b","x":{"y":[1]}} trailing)",
             "application/json; charset=utf-8"),
        error);
    REQUIRE_MESSAGE(in, error);
    CHECK(in->remote == "8.8.8.8");
}

TEST_CASE("the command comes from the query string, also from a URL that ended in '?'")
{
    std::string error;
    auto command = [&](const std::string &query) {
        auto in = parseDovecotPolicyRequest(post(query, kAllowBody), error);
        REQUIRE_MESSAGE(in, error);
        return in->command;
    };
    CHECK(command("command=allow") == DovecotCommand::Allow);
    CHECK(command("command=report") == DovecotCommand::Report);
    // auth_policy_server_url = http://host/dovecotpolicy?  ->  "??command=allow"
    CHECK(command("?command=allow") == DovecotCommand::Allow);
    // auth_policy_server_url = http://host/dovecotpolicy?site=a&
    CHECK(command("site=a&command=allow") == DovecotCommand::Allow);

    CHECK(refusal(post("", kAllowBody)) ==
          "missing ?command=: Dovecot asks with command=allow or command=report");
    CHECK(refusal(post("cmd=allow", kAllowBody)).rfind("missing ?command=", 0) == 0);
    CHECK(refusal(post("command=deny", kAllowBody)) ==
          "unknown command \"deny\": expected allow or report");
    CHECK(refusal(post("command=ALLOW", kAllowBody)).rfind("unknown command", 0) == 0);
    CHECK(refusal(post("command=", kAllowBody)).rfind("unknown command", 0) == 0);
}

TEST_CASE("a report is accepted whatever its body, as in the reference")
{
    std::string error;
    for (const AdminRequest &req :
         {post("command=report", kReportBody), post("command=report", "", ""),
          post("command=report", "not json", "text/plain")}) {
        auto in = parseDovecotPolicyRequest(req, error);
        REQUIRE_MESSAGE(in, error);
        CHECK(in->command == DovecotCommand::Report);
    }
}

TEST_CASE("an allow body without a usable remote or login is refused, naming the problem")
{
    CHECK(refusal(post("command=allow", kAllowBody, "text/plain"))
              .rfind("Content-Type must be application/json", 0) == 0);
    CHECK(refusal(post("command=allow", kAllowBody, "")) ==
          "Content-Type must be application/json, not missing");
    CHECK(allowRefusal("") == "the request body is empty; a JSON object was expected");
    CHECK(allowRefusal("{").rfind("the body is not valid JSON", 0) == 0);
    CHECK(allowRefusal(R"(["remote"])").find("must be Dovecot's JSON object") != std::string::npos);
    CHECK(allowRefusal(R"({"login":"a@b"})") == "missing \"remote\"");
    CHECK(allowRefusal(R"({"remote":"8.8.8.8"})") == "missing \"login\"");
    CHECK(allowRefusal(R"({"remote":"","login":"a@b"})") == "\"remote\" must not be empty");
    CHECK(allowRefusal(R"({"remote":"8.8.8.8","login":""})") == "\"login\" must not be empty");
    CHECK(allowRefusal(R"({"remote":8,"login":"a@b"})") ==
          "\"remote\" must be a string, not number 8");
    CHECK(allowRefusal(R"({"remote":"8.8.8.8","login":null})") ==
          "\"login\" must be a string, not null null");
    CHECK(allowRefusal(R"({"remote":"8.8.8.8","login":"a@b","success":"no"})") ==
          "\"success\" must be true or false, not string \"no\"");
}

TEST_CASE("\"success\": false marks a failed login")
{
    std::string error;
    auto in = parseDovecotPolicyRequest(
        post("command=allow", R"({"remote":"8.8.8.8","login":"a@b","success":false})"), error);
    REQUIRE_MESSAGE(in, error);
    CHECK(in->failedLogin);
    in = parseDovecotPolicyRequest(
        post("command=allow", R"({"remote":"8.8.8.8","login":"a@b","success":true})"), error);
    REQUIRE_MESSAGE(in, error);
    CHECK_FALSE(in->failedLogin);
}

TEST_CASE("the client sees the reject text without the verb and status codes")
{
    CHECK(dovecotRejectMessage("REJECT Policy violation. Please contact your support") ==
          "Policy violation. Please contact your support");
    CHECK(dovecotRejectMessage("reject Too many countries") == "Too many countries");
    CHECK(dovecotRejectMessage("554 5.7.1 Account locked") == "Account locked");
    CHECK(dovecotRejectMessage("REJECT 5.7.1 Account locked") == "Account locked");
    CHECK(dovecotRejectMessage("DEFER_IF_PERMIT 4.7.1 Try later") == "Try later");
    CHECK(dovecotRejectMessage("HOLD") == "Policy violation. Please contact your support");
    CHECK(dovecotRejectMessage("REJECT   ") == "Policy violation. Please contact your support");
    // Words that only look like codes stay.
    CHECK(dovecotRejectMessage("REJECT 2024 was a bad year") == "2024 was a bad year");
    CHECK(dovecotRejectMessage("REJECT 5.x.1 odd") == "5.x.1 odd");
}

TEST_CASE("the answers are the reference's, byte for byte")
{
    CHECK(formatDovecotReply(answered("DUNNO")) == R"({"status":0,"msg":"ok"})");
    CHECK(formatDovecotReply(answered("INFO Client IP address 10.0.0.1 is defined in "
                                      "ignore-networks")) == R"({"status":0,"msg":"ok"})");
    CHECK(formatDovecotReply(
              answered("REJECT Policy violation. Please contact your support", true)) ==
          R"({"status":-1,"msg":"Policy violation. Please contact your support"})");
    CHECK(formatDovecotReply(answered("554 5.7.1 \"Locked\"")) ==
          R"({"status":-1,"msg":"\"Locked\""})");
    CHECK(dovecotReportReply() == R"({"status":0,"msg":"Nothing to report"})");
}

TEST_CASE("allow asks the chain for a real decision with the login as sender and sasl_username")
{
    testing::FakeQuery q;
    q.result = answered("DUNNO");
    AdminResponse got;
    auto keep = [&](AdminResponse r) { got = std::move(r); };

    handleDovecotPolicy(&q, post("command=allow", kAllowBody), keep);
    CHECK(got.status == 200);
    CHECK(got.contentType == "application/json");
    CHECK(got.body == R"({"status":0,"msg":"ok"})");
    REQUIRE(q.modes.size() == 1);
    CHECK(q.modes.back() == QueryMode::Decision);
    CHECK(q.attribute("request") == "smtpd_access_policy");
    CHECK(q.attribute("client_address") == "81.2.69.142");
    CHECK(q.attribute("sender") == "alice@example.com");
    CHECK(q.attribute("sasl_username") == "alice@example.com");

    q.result = answered("REJECT Policy violation. Please contact your support", true);
    handleDovecotPolicy(&q, post("command=allow", kAllowBody), keep);
    CHECK(got.status == 200);
    CHECK(got.body == R"({"status":-1,"msg":"Policy violation. Please contact your support"})");
}

TEST_CASE("a failed login is only asked about; a report asks nothing")
{
    testing::FakeQuery q;
    q.result = answered("DUNNO");
    AdminResponse got;
    auto keep = [&](AdminResponse r) { got = std::move(r); };

    handleDovecotPolicy(
        &q, post("command=allow", R"({"remote":"8.8.8.8","login":"a@b","success":false})"), keep);
    CHECK(got.status == 200);
    REQUIRE(q.modes.size() == 1);
    CHECK(q.modes.back() == QueryMode::WhatIf);

    handleDovecotPolicy(&q, post("command=report", kReportBody), keep);
    CHECK(got.status == 200);
    CHECK(got.body == R"({"status":0,"msg":"Nothing to report"})");
    CHECK(q.modes.size() == 1);
}

TEST_CASE("bad requests are 400 before the chain; a failed chain is 500; no service is 503")
{
    testing::FakeQuery q;
    AdminResponse got;
    auto keep = [&](AdminResponse r) { got = std::move(r); };

    handleDovecotPolicy(&q, post("command=allow", R"({"remote":"8.8.8.8"})"), keep);
    CHECK(got.status == 400);
    CHECK(nlohmann::json::parse(got.body)["error"] == "missing \"login\"");
    handleDovecotPolicy(&q, post("", kAllowBody), keep);
    CHECK(got.status == 400);
    CHECK(q.modes.empty());

    q.result = answered("DEFER Service temporarily not available");
    q.result.failed = true;
    q.result.failure = "memory-store: out of memory";
    handleDovecotPolicy(&q, post("command=allow", kAllowBody), keep);
    CHECK(got.status == 500);
    auto body = nlohmann::json::parse(got.body);
    CHECK(body["error"] == "the policy chain failed: memory-store: out of memory");
    CHECK(body["action"] == "DEFER Service temporarily not available");

    handleDovecotPolicy(nullptr, post("command=allow", kAllowBody), keep);
    CHECK(got.status == 503);
    handleDovecotPolicy(nullptr, post("command=report", ""), keep);
    CHECK(got.status == 200);
}
