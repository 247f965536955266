// Fuzz target: the REST admin request bodies (rest-admin passes each HTTP
// request as an AdminRequest; the handlers registered by limits and
// rest-admin read the body).
//
// Every input is the body of all five requests that carry one, through the
// functions the handlers call before they touch anything (pure; the handlers
// then commit, unlock or ask the chain):
//   PUT /update      limits::replaceAllRequest(req)
//   PATCH /modify    limits::modifyEntryRequest(current, req)
//   DELETE /remove   limits::removeEntryRequest(current, req)
//   POST /remove     limits::readUnlockRequest(req, ...)   (unlock)
//   POST /query      rest_admin::parseQueryRequest(req, ...), and
//                    formatQueryResponse() of what it read
//   POST /dovecotpolicy?command=allow|report
//                    rest_admin::parseDovecotPolicyRequest(req, ...), and
//                    formatDovecotReply() with the input as the action text
// No knob picks the endpoint: each parse is cheap, and a body sent to the
// wrong endpoint must be refused too, which only shows when every endpoint
// sees every body.
//
// Knobs (knobs.hpp), read from the input's end, one byte each:
//  1. the last byte: the Content-Type. A byte a JSON text or trailing
//     whitespace can end with (printable ASCII, TAB, LF, CR) gives
//     "application/json", so every plain JSON seed reaches the parsers;
//     any other byte picks one of kOtherTypes (missing, with parameters,
//     upper case, wrong types, non-UTF-8 bytes).
//  2. the byte before: the query string, kQueries[byte % 8] (details=...).
//  3. the byte before that: the current custom settings that PATCH and
//     DELETE edit, kCurrent[byte % 3] (etc/custom.json, none, or a set with
//     duplicate senders and home blocks).
// The knob bytes are also the body's last bytes. Since text after the first
// JSON value is ignored (admin_json.hpp), a seed may append knob bytes after
// its JSON without changing the body's meaning, e.g. "{...}\x01" for a
// missing Content-Type.
//
// Invariants:
//  - no exception escapes (the handlers catch none);
//  - an edit either yields settings (status 202, no error) or none (400 or
//    404, a non-empty error): never a half result; 404 only from DELETE, for
//    a well-formed body whose sender has no entry;
//  - a body the shared rules refuse (Content-Type, empty, not JSON, too
//    deep) is refused by every endpoint with the same 400 and message;
//  - every error, wrapped by adminErrorBody(), is valid UTF-8 JSON
//    {"error": message}, and gives back the message when it is valid UTF-8;
//  - the endpoints' shapes are disjoint: at most one of PUT, PATCH, POST
//    /remove and POST /query accepts a body; DELETE and POST /remove accept
//    the same bodies (the same {"key":"sender","value":"..."});
//  - accepted edits serialise and re-parse to the same entries
//    (custom_settings_check.hpp); PUT gives the body's entries in order,
//    without duplicates; PATCH changes exactly the given fields of the first
//    entry of the sender (any case), or appends one entry, and leaves every
//    other entry alone; DELETE drops exactly the sender's entries and keeps
//    the order of the rest;
//  - an accepted query has the body's non-empty address and sender, "details"
//    as the query string says, and its response is valid JSON that echoes
//    both back;
//  - Dovecot: a report is accepted whatever the body; an allow is accepted
//    exactly when the shared rules pass and "remote" and "login" are
//    non-empty strings ("success" a boolean if there), and then carries them
//    and failedLogin == (success is false); the reply to any action text is
//    valid JSON {"status":0|-1,"msg":non-empty}, -1 exactly for a reject.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "custom_settings_check.hpp"
#include "fuzz_check.hpp"
#include "geopol/admin.hpp"
#include "geopol/admin_json.hpp"
#include "knobs.hpp"
#include "modules/limits/custom_settings.hpp"
#include "modules/limits/custom_settings_edit.hpp"
#include "modules/rest-admin/dovecot_policy.hpp"
#include "modules/rest-admin/query_command.hpp"

using geopol::AdminRequest;
using geopol::fuzz::checkRoundTrip;
using geopol::fuzz::sameEntry;
using geopol::limits::CustomEntry;
using geopol::limits::CustomSettings;
using geopol::limits::EditResult;
using geopol::limits::lowerAscii;
using nlohmann::json;

namespace {

struct ContentType {
    const char *text;
    bool json;  // its media type is application/json
};

const ContentType kJson = {"application/json", true};
const ContentType kOtherTypes[] = {
    {"", false},  // no Content-Type header
    {"application/json; charset=utf-8", true},
    {"Application/JSON", true},
    {" application/json ;charset=\"UTF-8\"", true},
    {"text/plain", false},
    {"application/x-www-form-urlencoded", false},
    {"application/json-patch+json", false},
    {"application /json", false},
    {";application/json", false},
    {"application/json\xff\xfe", false},  // a header's bytes are not checked for UTF-8
    {"t\xc3\xa9xt/plain", false},
};

struct QueryString {
    const char *text;
    bool details;  // what POST /query must read from it
};

// Eight, so that a byte picks each equally often.
const QueryString kQueries[8] = {
    {"", false},
    {"details=1", true},
    {"details=true", true},
    {"details=0", false},
    {"details", true},  // a bare name counts as details=1
    {"x=1&details=yes", true},
    {"details=on&details=0", true},  // the first one counts
    {"detailsx=1&details=", false},
};

const char *const kCurrentTexts[3] = {
    // etc/custom.json
    R"({"data":[
{"comment":"Allow only two countries and a maximum of 5 IP addresses","sender":"christian@roessner.email","ips":5,"countries":2},
{"comment":"Allow at least 4 countries and go with the default IP address limit","sender":"test1@example.com","ips":0,"countries":4},
{"comment":"Go with the default country limit, but allow up to 30 IP addresses","sender":"test2@example.com","ips":30,"countries":0},
{"comment":"Travels only between Germany and Austria, from the office network","sender":"ceo@example.com","trusted_countries":["DE","AT"],"trusted_ips":["192.0.2.0/24","2001:db8:1::/48"]},
{"comment":"Home in Germany with up to 20 IPs there; stricter abroad","sender":"sales@example.com","ips":3,"countries":1,"home_countries":{"codes":["DE"],"ips":20,"countries":1}}]})",
    // no custom settings (no file, nothing PUT yet)
    "null",
    // what a file may hold that PUT refuses: the same sender twice, in two
    // spellings (the first one applies), and every field
    R"({"data":[
{"sender":"User@Example.com","ips":2,"home_countries":{"codes":["de"],"ips":4}},
{"sender":"user@example.com","countries":3},
{"comment":"ü","sender":"christian@roessner.email","trusted_countries":["at"],"trusted_ips":["10.0.0.0/8","::1"],"home_countries":{"codes":null}},
{"sender":"jörg@example.com","comment":""}]})",
};

const CustomSettings &currentSet(size_t i)
{
    static const std::vector<std::shared_ptr<const CustomSettings>> sets = [] {
        std::vector<std::shared_ptr<const CustomSettings>> out;
        for (const char *text : kCurrentTexts) {
            auto r = CustomSettings::parse(text, "current");
            FUZZ_CHECK(r.settings != nullptr);
            out.push_back(r.settings);
        }
        return out;
    }();
    return *sets[i];
}

bool validUtf8(const std::string &s)
{
    try {
        (void)json(s).dump();  // the strict error handler throws on bad UTF-8
        return true;
    } catch (const json::type_error &) {
        return false;
    }
}

// What a client receives for a refused request must be JSON it can parse.
void checkError(const std::string &message)
{
    FUZZ_CHECK(!message.empty());
    json body = json::parse(geopol::adminErrorBody(message), nullptr, false);
    FUZZ_CHECK(!body.is_discarded());
    FUZZ_CHECK(body.is_object() && body.size() == 1 && body.contains("error"));
    FUZZ_CHECK(body["error"].is_string());
    if (validUtf8(message))
        FUZZ_CHECK(body["error"].get_ref<const std::string &>() == message);
}

void checkEdit(const EditResult &r)
{
    FUZZ_CHECK((r.settings != nullptr) == r.error.empty());
    if (r.settings) {
        FUZZ_CHECK(r.status == 202);
        checkRoundTrip(*r.settings);
    } else {
        FUZZ_CHECK(r.status == 400 || r.status == 404);
        checkError(r.error);
    }
}

// The first entry of `sender` in `entries` (ASCII case ignored), or -1;
// a scan, independent of CustomSettings' index.
long firstOf(const std::vector<CustomEntry> &entries, const std::string &sender)
{
    for (size_t i = 0; i < entries.size(); ++i)
        if (lowerAscii(entries[i].sender) == lowerAscii(sender))
            return static_cast<long>(i);
    return -1;
}

void checkPut(const EditResult &r, const json &doc)
{
    if (!r.settings) {
        FUZZ_CHECK(r.status == 400);
        return;
    }
    const json &data = doc.at("data");
    const auto &entries = r.settings->entries();
    FUZZ_CHECK(data.is_array() && entries.size() == data.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        FUZZ_CHECK(entries[i].sender == data[i].at("sender").get<std::string>());
        FUZZ_CHECK(r.settings->find(entries[i].sender) == &entries[i]);  // no duplicates
    }
}

// `field` of a PATCH value: given (null is the default) or unchanged.
template <typename T>
T patched(const json &value, const char *field, const T &old)
{
    auto it = value.find(field);
    if (it == value.end())
        return old;
    return it->is_null() ? T{} : it->get<T>();
}

void checkPatch(const EditResult &r, const CustomSettings &current, const json &doc)
{
    if (!r.settings) {
        FUZZ_CHECK(r.status == 400);
        return;
    }
    const json &value = doc.at("value");
    const std::string sender = value.at("sender").get<std::string>();
    const auto &before = current.entries();
    const auto &after = r.settings->entries();
    long at = firstOf(before, sender);
    const CustomEntry *changed = nullptr;
    CustomEntry old;
    if (at < 0) {
        FUZZ_CHECK(after.size() == before.size() + 1);
        changed = &after.back();
        FUZZ_CHECK(changed->sender == sender);
        at = static_cast<long>(before.size());
    } else {
        FUZZ_CHECK(after.size() == before.size());
        changed = &after[static_cast<size_t>(at)];
        old = before[static_cast<size_t>(at)];
        FUZZ_CHECK(changed->sender == old.sender);  // the existing spelling stays
    }
    for (size_t i = 0; i < before.size(); ++i)
        if (static_cast<long>(i) != at)
            FUZZ_CHECK(sameEntry(before[i], after[i]));
    FUZZ_CHECK(changed->comment == patched(value, "comment", old.comment));
    FUZZ_CHECK(changed->ips == patched(value, "ips", old.ips));
    FUZZ_CHECK(changed->countries == patched(value, "countries", old.countries));
    if (!value.contains("trusted_ips"))
        FUZZ_CHECK(changed->trustedIpTexts == old.trustedIpTexts);
    if (!value.contains("trusted_countries"))
        FUZZ_CHECK(changed->trustedCountries == old.trustedCountries);
    auto home = value.find("home_countries");
    if (home == value.end())
        FUZZ_CHECK(changed->home.has_value() == old.home.has_value());
    else
        FUZZ_CHECK(changed->home.has_value() == home->is_object());
}

void checkDelete(const EditResult &r, const CustomSettings &current, bool unlocked,
                 const std::string &unlockSender, const std::string &unlockError)
{
    if (r.status == 400) {
        // The same body rules as POST /remove, with the same message.
        FUZZ_CHECK(!unlocked);
        FUZZ_CHECK(r.error == unlockError);
        return;
    }
    FUZZ_CHECK(unlocked);
    const auto &before = current.entries();
    if (!r.settings) {
        FUZZ_CHECK(r.status == 404);
        FUZZ_CHECK(firstOf(before, unlockSender) < 0);
        return;
    }
    std::vector<const CustomEntry *> kept;
    for (const auto &e : before)
        if (lowerAscii(e.sender) != lowerAscii(unlockSender))
            kept.push_back(&e);
    const auto &after = r.settings->entries();
    FUZZ_CHECK(kept.size() < before.size());
    FUZZ_CHECK(after.size() == kept.size());
    for (size_t i = 0; i < kept.size(); ++i)
        FUZZ_CHECK(sameEntry(*kept[i], after[i]));
}

void checkQuery(const std::optional<geopol::rest_admin::QueryInput> &in, const std::string &error,
                const json &doc, bool details)
{
    if (!in) {
        checkError(error);
        return;
    }
    FUZZ_CHECK(error.empty());
    FUZZ_CHECK(!in->address.empty() && !in->sender.empty());
    FUZZ_CHECK(doc.at("key") == "client");
    FUZZ_CHECK(in->address == doc.at("value").at("address").get<std::string>());
    FUZZ_CHECK(in->sender == doc.at("value").at("sender").get<std::string>());
    FUZZ_CHECK(in->details == details);

    // The answer echoes what the client sent: it must stay valid JSON.
    geopol::QueryResult result;
    result.action = "DUNNO";
    result.facts.identity = in->sender;
    result.facts.account = lowerAscii(in->sender);
    result.facts.clientAddress = in->address;
    result.facts.verdict.seenIps = {in->address};
    std::string text =
        geopol::rest_admin::formatQueryResponse("2FOLGkYQwUB8XTQhdTY3csRkNV2", *in, result);
    json out = json::parse(text, nullptr, false);
    FUZZ_CHECK(!out.is_discarded() && out.is_object());
    FUZZ_CHECK(out.value("result", false) == true);
    FUZZ_CHECK(out.contains("details") == details);
    if (details) {
        FUZZ_CHECK(out["details"]["sender"] == in->sender);
        FUZZ_CHECK(out["details"]["client_address"] == in->address);
    }
}

void checkDovecot(AdminRequest req, const json &doc, bool parsed, const std::string &bodyError)
{
    using geopol::rest_admin::DovecotCommand;
    req.method = "POST";
    req.path = "/dovecotpolicy";
    std::string error;
    req.query = "command=report";
    auto report = geopol::rest_admin::parseDovecotPolicyRequest(req, error);
    FUZZ_CHECK(report && report->command == DovecotCommand::Report && error.empty());

    req.query = "?command=allow";  // as Dovecot sends it for a URL ending in '?'
    auto allow = geopol::rest_admin::parseDovecotPolicyRequest(req, error);
    if (!parsed) {
        FUZZ_CHECK(!allow && error == bodyError);
    } else {
        auto text = [&](const char *key) {
            auto it = doc.is_object() ? doc.find(key) : doc.end();
            return it != doc.end() && it->is_string() &&
                   !it->get_ref<const std::string &>().empty();
        };
        auto success = doc.is_object() ? doc.find("success") : doc.end();
        bool wellFormed =
            text("remote") && text("login") && (success == doc.end() || success->is_boolean());
        FUZZ_CHECK(allow.has_value() == wellFormed);
        if (allow) {
            FUZZ_CHECK(allow->command == DovecotCommand::Allow && error.empty());
            FUZZ_CHECK(allow->remote == doc["remote"].get<std::string>());
            FUZZ_CHECK(allow->login == doc["login"].get<std::string>());
            FUZZ_CHECK(allow->failedLogin == (success != doc.end() && !success->get<bool>()));
        } else {
            checkError(error);
        }
    }

    // Whatever text an action carries, Dovecot gets JSON with a message.
    geopol::QueryResult result;
    result.action.assign(req.body, 0, 512);
    for (bool reject : {false, true}) {
        result.facts.verdict.reject = reject;
        json out = json::parse(geopol::rest_admin::formatDovecotReply(result), nullptr, false);
        FUZZ_CHECK(!out.is_discarded() && out.is_object() && out.size() == 2);
        FUZZ_CHECK(out["msg"].is_string() && !out["msg"].get_ref<const std::string &>().empty());
        bool refused = reject || geopol::rest_admin::rejectingAction(result.action);
        FUZZ_CHECK(out["status"] == (refused ? -1 : 0));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    geopol::fuzz::Knobs knobs(data, size);
    uint64_t ctByte = knobs.range(0, 255);
    bool endsLikeText =
        ctByte == '\t' || ctByte == '\n' || ctByte == '\r' || (ctByte >= 0x20 && ctByte <= 0x7e);
    const ContentType &ct =
        endsLikeText ? kJson : kOtherTypes[ctByte % (sizeof kOtherTypes / sizeof kOtherTypes[0])];
    const QueryString &qs = kQueries[knobs.range(0, 255) % 8];
    const CustomSettings &current = currentSet(knobs.range(0, 255) % 3);

    AdminRequest req;
    req.contentType = ct.text;
    req.query = qs.text;
    req.body.assign(reinterpret_cast<const char *>(data), size);
    req.remote = "192.0.2.1:4711";

    // The shared rules on their own (admin_json.hpp); every endpoint applies them first.
    json doc;
    std::string bodyError;
    const bool parsed = geopol::parseJsonBody(req, doc, bodyError);
    const bool ctError = bodyError.rfind("Content-Type must be application/json", 0) == 0;
    FUZZ_CHECK(ctError == !ct.json);

    req.method = "PUT";
    req.path = "/update";
    EditResult put = geopol::limits::replaceAllRequest(req);
    checkEdit(put);

    req.method = "PATCH";
    req.path = "/modify";
    EditResult patch = geopol::limits::modifyEntryRequest(current, req);
    checkEdit(patch);

    req.method = "POST";
    req.path = "/remove";
    std::string unlockSender, unlockError;
    bool unlocked = geopol::limits::readUnlockRequest(req, unlockSender, unlockError);
    if (unlocked) {
        FUZZ_CHECK(unlockError.empty());
        FUZZ_CHECK(!unlockSender.empty());
        FUZZ_CHECK(doc.at("value") == unlockSender);
    } else {
        checkError(unlockError);
    }

    req.method = "DELETE";
    EditResult del = geopol::limits::removeEntryRequest(current, req);
    checkEdit(del);

    req.method = "POST";
    req.path = "/query";
    std::string queryError;
    auto query = geopol::rest_admin::parseQueryRequest(req, queryError);
    const bool queried = query.has_value();

    checkDovecot(req, doc, parsed, bodyError);

    if (!parsed) {
        for (const std::string *e : {&put.error, &patch.error, &del.error, &unlockError})
            FUZZ_CHECK(*e == bodyError);
        FUZZ_CHECK(put.status == 400 && patch.status == 400 && del.status == 400);
        FUZZ_CHECK(!unlocked && !queried && queryError == bodyError);
        checkError(bodyError);
        return 0;
    }
    FUZZ_CHECK(bodyError.empty());
    FUZZ_CHECK(int(put.settings != nullptr) + int(patch.settings != nullptr) + int(unlocked) +
                   int(queried) <=
               1);
    checkPut(put, doc);
    checkPatch(patch, current, doc);
    checkDelete(del, current, unlocked, unlockSender, unlockError);
    checkQuery(query, queryError, doc, qs.details);
    return 0;
}
