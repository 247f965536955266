// dovecot_policy.cpp
#include "dovecot_policy.hpp"

#include <nlohmann/json.hpp>

#include "geopol/admin_json.hpp"
#include "query_command.hpp"

namespace geopol::rest_admin {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// The reference's only reject text, and the limits module's default one.
constexpr std::string_view kDefaultRejectText = "Policy violation. Please contact your support";

bool isVerb(std::string_view word)
{
    std::string w(word);
    for (char &c : w)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return w == "REJECT" || w == "DEFER" || w == "DEFER_IF_PERMIT" || w == "DEFER_IF_REJECT" ||
           w == "DISCARD" || w == "HOLD";
}

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// "554" or "4.7.1": an SMTP reply code or enhanced status code.
bool isStatusCode(std::string_view word)
{
    if (word.size() == 3 && isDigit(word[0]) && isDigit(word[1]) && isDigit(word[2]))
        return true;
    auto dot = word.find('.');
    return word.size() >= 5 && dot == 1 && isDigit(word[0]) && word.find('.', 2) != word.npos &&
           word.find_first_not_of("0123456789.") == word.npos;
}

// Drops the first word of `text` (and the blanks after it) when `drop` says so.
bool dropWord(std::string_view &text, bool (*drop)(std::string_view))
{
    std::string_view word = text.substr(0, text.find(' '));
    if (word.empty() || !drop(word))
        return false;
    text.remove_prefix(word.size());
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    return true;
}

std::optional<DovecotCommand> readCommand(std::string_view query, std::string &error)
{
    // Dovecot appends "?command=..." to auth_policy_server_url unless the URL
    // ends in '&', so a URL ending in '?' arrives as "??command=allow".
    while (!query.empty() && query.front() == '?')
        query.remove_prefix(1);
    auto command = queryParam(query, "command");
    if (!command) {
        error = "missing ?command=: Dovecot asks with command=allow or command=report";
        return std::nullopt;
    }
    if (*command == "allow")
        return DovecotCommand::Allow;
    if (*command == "report")
        return DovecotCommand::Report;
    error = "unknown command \"" + command->substr(0, 40) + "\": expected allow or report";
    return std::nullopt;
}

bool readNonEmptyString(const json &doc, const char *key, std::string &out, std::string &error)
{
    auto it = doc.find(key);
    if (it == doc.end()) {
        error = std::string("missing \"") + key + "\"";
        return false;
    }
    if (!it->is_string()) {
        error = std::string("\"") + key + "\" must be a string, not " + describeJson(*it);
        return false;
    }
    out = it->get<std::string>();
    if (out.empty()) {
        error = std::string("\"") + key + "\" must not be empty";
        return false;
    }
    return true;
}

std::string statusBody(int status, std::string_view message)
{
    ordered_json out;
    out["status"] = status;
    out["msg"] = message;
    return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

std::optional<DovecotPolicyInput> parseDovecotPolicyRequest(const AdminRequest &req,
                                                            std::string &error)
{
    auto command = readCommand(req.query, error);
    if (!command)
        return std::nullopt;
    DovecotPolicyInput in;
    in.command = *command;
    if (in.command == DovecotCommand::Report)
        return in;  // nothing is read from a report, as in the reference

    json doc;
    if (!parseJsonBody(req, doc, error))
        return std::nullopt;
    if (!doc.is_object()) {
        error = "the body must be Dovecot's JSON object {\"login\":...,\"remote\":...}, not " +
                describeJson(doc);
        return std::nullopt;
    }
    if (!readNonEmptyString(doc, "remote", in.remote, error) ||
        !readNonEmptyString(doc, "login", in.login, error))
        return std::nullopt;
    if (auto it = doc.find("success"); it != doc.end()) {
        if (!it->is_boolean()) {
            error = "\"success\" must be true or false, not " + describeJson(*it);
            return std::nullopt;
        }
        in.failedLogin = !it->get<bool>();
    }
    return in;
}

std::string dovecotRejectMessage(std::string_view action)
{
    dropWord(action, isVerb);
    if (dropWord(action, isStatusCode))
        dropWord(action, isStatusCode);
    while (!action.empty() && (action.back() == ' ' || action.back() == '\t'))
        action.remove_suffix(1);
    return std::string(action.empty() ? kDefaultRejectText : action);
}

std::string formatDovecotReply(const QueryResult &result)
{
    if (result.facts.verdict.reject || rejectingAction(result.action))
        return statusBody(-1, dovecotRejectMessage(result.action));
    return statusBody(0, "ok");
}

std::string_view dovecotReportReply()
{
    return R"({"status":0,"msg":"Nothing to report"})";
}

void handleDovecotPolicy(PolicyQuery *service, const AdminRequest &req, AdminReply reply)
{
    std::string error;
    auto in = parseDovecotPolicyRequest(req, error);
    if (!in) {
        reply(badRequest(error));
        return;
    }
    if (in->command == DovecotCommand::Report) {
        reply({200, "application/json", std::string(dovecotReportReply())});
        return;
    }
    // A failed login must not count: otherwise anyone who knows an address
    // could get it blocked by guessing passwords from a few countries. A
    // failed chain is 500: any non-2xx answer makes Dovecot apply
    // auth_policy_reject_on_fail.
    QueryMode mode = in->failedLogin ? QueryMode::WhatIf : QueryMode::Decision;
    askChain(service, in->remote, in->login, mode, 500, std::move(reply),
             [](const QueryResult &result, const AdminReply &answer) {
                 answer({200, "application/json", formatDovecotReply(result)});
             });
}

}  // namespace geopol::rest_admin
