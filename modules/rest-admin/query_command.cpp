// query_command.cpp
#include "query_command.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "geopol/admin_json.hpp"
#include "geopol/ksuid.hpp"

namespace geopol::rest_admin {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

bool truthy(std::string_view v)
{
    return v == "1" || v == "true" || v == "yes" || v == "on";
}

}  // namespace

std::optional<std::string> queryParam(std::string_view query, std::string_view key)
{
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) == key)
            return std::string(eq == std::string_view::npos ? "1" : pair.substr(eq + 1));
        if (amp == std::string_view::npos)
            break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::optional<QueryInput> parseQueryRequest(const AdminRequest &req, std::string &error)
{
    json doc;
    if (!parseJsonBody(req, doc, error))
        return std::nullopt;
    if (!doc.is_object()) {
        error = "the body must be a JSON object {\"key\":\"client\",\"value\":{...}}, not " +
                describeJson(doc);
        return std::nullopt;
    }
    if (auto k = unknownKey(doc, {"key", "value"}); !k.empty()) {
        error = "unknown key \"" + k + "\" (expected \"key\" and \"value\")";
        return std::nullopt;
    }
    auto key = doc.find("key");
    if (key == doc.end() || !key->is_string() || *key != "client") {
        error = key == doc.end() ? "missing \"key\": it must be \"client\""
                                 : "\"key\" must be \"client\", not " + describeJson(*key);
        return std::nullopt;
    }
    auto value = doc.find("value");
    if (value == doc.end() || !value->is_object()) {
        error = value == doc.end()
                    ? "missing \"value\": {\"address\":\"1.2.3.4\",\"sender\":\"user@example.com\"}"
                    : "\"value\" must be an object {\"address\":...,\"sender\":...}, not " +
                          describeJson(*value);
        return std::nullopt;
    }
    if (auto k = unknownKey(*value, {"address", "sender"}); !k.empty()) {
        error = "unknown key \"value." + k + "\" (expected \"address\" and \"sender\")";
        return std::nullopt;
    }
    QueryInput in;
    for (const char *field : {"address", "sender"}) {
        auto it = value->find(field);
        if (it == value->end()) {
            error = std::string("missing \"value.") + field + "\"";
            return std::nullopt;
        }
        if (!it->is_string()) {
            error =
                std::string("\"value.") + field + "\" must be a string, not " + describeJson(*it);
            return std::nullopt;
        }
        if (it->get_ref<const std::string &>().empty()) {
            error = std::string("\"value.") + field + "\" must not be empty";
            return std::nullopt;
        }
        (std::strcmp(field, "address") == 0 ? in.address : in.sender) = it->get<std::string>();
    }
    auto details = queryParam(req.query, "details");
    in.details = details && truthy(*details);
    return in;
}

bool rejectingAction(std::string_view action)
{
    auto word = action.substr(0, action.find(' '));
    std::string w(word);
    for (char &c : w)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    if (w == "REJECT" || w == "DEFER" || w == "DEFER_IF_PERMIT" || w == "DISCARD" || w == "HOLD")
        return true;
    // "450 ..." / "554 ...": a numeric 4xx/5xx reply.
    return w.size() == 3 && (w[0] == '4' || w[0] == '5') && w[1] >= '0' && w[1] <= '9' &&
           w[2] >= '0' && w[2] <= '9';
}

std::string formatQueryResponse(const std::string &guid, const QueryInput &in,
                                const QueryResult &result)
{
    const Facts &f = result.facts;
    const Verdict &v = f.verdict;
    ordered_json out;
    out["guid"] = guid;
    out["object"] = "client";
    out["operation"] = "query";
    out["result"] = !(v.reject || rejectingAction(result.action));
    if (in.details) {
        ordered_json d;
        d["action"] = result.action;
        d["sender"] = in.sender;
        d["account"] = f.account;
        d["client_address"] = f.clientAddress;
        d["country"] = f.country;
        d["continent"] = f.continent;
        d["evaluated"] = v.evaluated;
        d["reject"] = v.reject;
        d["reason"] = v.reason;
        d["home"] = v.home;
        d["blocked"] = v.blocked;
        d["permanent"] = v.permanent;
        d["countries"] = v.countries;
        d["max_countries"] = v.maxCountries;
        d["ips"] = v.ips;
        d["max_ips"] = v.maxIps;
        d["home_countries"] = v.homeCountries;
        d["max_home_countries"] = v.maxHomeCountries;
        d["home_ips"] = v.homeIps;
        d["max_home_ips"] = v.maxHomeIps;
        d["seen_countries"] = v.seenCountries;
        d["seen_ips"] = v.seenIps;
        out["details"] = std::move(d);
    }
    return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

void handleQuery(PolicyQuery *service, const AdminRequest &req, AdminReply reply)
{
    std::string error;
    auto in = parseQueryRequest(req, error);
    if (!in) {
        reply(badRequest(error));
        return;
    }
    QueryInput input = *in;
    // A failed question is not an answer: the reference said 202
    // "result":true with a serialized Go error.
    askChain(service, in->address, in->sender, QueryMode::WhatIf, 503, std::move(reply),
             [input](const QueryResult &result, const AdminReply &answer) {
                 answer({202, "application/json", formatQueryResponse(newKsuid(), input, result)});
             });
}

void askChain(PolicyQuery *service, std::string_view address, std::string_view identity,
              QueryMode mode, int failStatus, AdminReply reply,
              std::function<void(const QueryResult &, const AdminReply &)> answer)
{
    if (!service) {
        reply({503, "application/json", adminErrorBody("the policy-query service is not running")});
        return;
    }
    std::vector<Attribute> attrs = {
        {"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"},
        {"client_address", address},        {"sender", identity},
        {"sasl_username", identity},
    };
    service->query(std::move(attrs), mode,
                   [failStatus, reply = std::move(reply),
                    answer = std::move(answer)](const QueryResult &result) {
                       if (result.failed) {
                           ordered_json e;
                           e["error"] = "the policy chain failed: " + result.failure;
                           e["action"] = result.action;
                           reply({failStatus, "application/json",
                                  e.dump(-1, ' ', false, ordered_json::error_handler_t::replace)});
                           return;
                       }
                       answer(result, reply);
                   });
}

}  // namespace geopol::rest_admin
