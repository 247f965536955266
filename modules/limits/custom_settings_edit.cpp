// custom_settings_edit.cpp
#include "custom_settings_edit.hpp"

#include <nlohmann/json.hpp>

#include "geopol/admin_json.hpp"

namespace geopol::limits {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const std::initializer_list<std::string_view> kEntryKeys = {
    "comment", "sender", "ips", "countries", "trusted_countries", "trusted_ips", "home_countries"};
const std::initializer_list<std::string_view> kHomeKeys = {"codes", "ips", "countries"};

EditResult fail(std::string message, int status = 400)
{
    EditResult r;
    r.status = status;
    r.error = std::move(message);
    return r;
}

// Unknown keys in one entry (and its home block), named with their place.
std::string entryKeyProblem(const json &entry, const std::string &where)
{
    if (!entry.is_object())
        return {};  // fromJson names the wrong type
    if (auto k = unknownKey(entry, kEntryKeys); !k.empty())
        return where + ": unknown key \"" + k +
               "\" (known: comment, sender, ips, countries, trusted_countries, trusted_ips, "
               "home_countries)";
    auto home = entry.find("home_countries");
    if (home != entry.end() && home->is_object())
        if (auto k = unknownKey(*home, kHomeKeys); !k.empty())
            return where + ": unknown key \"home_countries." + k +
                   "\" (known: codes, ips, countries)";
    return {};
}

EditResult build(const json &doc, std::string_view source, bool refuseDuplicates)
{
    auto parsed = CustomSettings::fromJson(doc, source);
    if (!parsed.settings)
        return fail(parsed.error);
    if (refuseDuplicates && !parsed.warnings.empty())
        return fail(parsed.warnings.front());
    EditResult r;
    r.settings = std::move(parsed.settings);
    r.status = 202;
    return r;
}

// The current set as a mutable document, and the index of `sender`'s first entry.
json currentDocument(const CustomSettings &current)
{
    return json::parse(current.serialize());
}

bool sameSender(const json &entry, const std::string &lowerSender)
{
    auto it = entry.find("sender");
    return it != entry.end() && it->is_string() &&
           lowerAscii(it->get<std::string>()) == lowerSender;
}

}  // namespace

bool readSenderKey(const json &body, std::string &sender, std::string &error)
{
    if (!body.is_object()) {
        error =
            "the body must be a JSON object {\"key\":\"sender\",\"value\":\"user@example.com\"}, "
            "not " +
            describeJson(body);
        return false;
    }
    if (auto k = unknownKey(body, {"key", "value"}); !k.empty()) {
        error = "unknown key \"" + k + "\" (expected \"key\" and \"value\")";
        return false;
    }
    auto key = body.find("key");
    if (key == body.end()) {
        error = "missing \"key\": it must be \"sender\"";
        return false;
    }
    if (!key->is_string() || *key != "sender") {
        error = "\"key\" must be \"sender\", not " + describeJson(*key);
        return false;
    }
    auto value = body.find("value");
    if (value == body.end()) {
        error = "missing \"value\": the sender, e.g. \"user@example.com\"";
        return false;
    }
    if (!value->is_string()) {
        error = "\"value\" must be the sender as a string, not " + describeJson(*value);
        return false;
    }
    sender = value->get<std::string>();
    if (sender.empty()) {
        error = "\"value\" must not be empty";
        return false;
    }
    return true;
}

EditResult replaceAll(const json &body)
{
    if (!body.is_object())
        return fail("the body must be a JSON object {\"data\":[...]}, not " + describeJson(body));
    if (auto k = unknownKey(body, {"data"}); !k.empty())
        return fail("unknown key \"" + k + "\" (expected \"data\")");
    auto data = body.find("data");
    if (data == body.end())
        return fail("missing \"data\": the list of entries ([] removes them all)");
    if (!data->is_array())
        return fail("\"data\" must be a list of entries, not " + describeJson(*data));
    for (size_t i = 0; i < data->size(); ++i)
        if (auto p = entryKeyProblem((*data)[i], "data[" + std::to_string(i) + "]"); !p.empty())
            return fail(p);
    return build(body, "request", true);
}

EditResult modifyEntry(const CustomSettings &current, const json &body)
{
    if (!body.is_object())
        return fail("the body must be a JSON object {\"key\":\"sender\",\"value\":{...}}, not " +
                    describeJson(body));
    if (auto k = unknownKey(body, {"key", "value"}); !k.empty())
        return fail("unknown key \"" + k + "\" (expected \"key\" and \"value\")");
    auto key = body.find("key");
    if (key == body.end())
        return fail("missing \"key\": it must be \"sender\"");
    if (!key->is_string() || *key != "sender")
        return fail("\"key\" must be \"sender\", not " + describeJson(*key));
    auto value = body.find("value");
    if (value == body.end())
        return fail(
            "missing \"value\": the entry, e.g. {\"sender\":\"user@example.com\",\"ips\":5}");
    if (!value->is_object())
        return fail("\"value\" must be an entry object, not " + describeJson(*value));
    if (auto p = entryKeyProblem(*value, "value"); !p.empty())
        return fail(p);
    auto sender = value->find("sender");
    if (sender == value->end())
        return fail("missing \"value.sender\"");
    if (!sender->is_string() || sender->get_ref<const std::string &>().empty())
        return fail("\"value.sender\" must be a non-empty string, not " + describeJson(*sender));
    if (value->size() == 1)
        return fail("\"value\" names only the sender: nothing to change");

    json doc = currentDocument(current);
    json &data = doc["data"];
    const std::string wanted = lowerAscii(sender->get<std::string>());
    json *entry = nullptr;
    for (auto &e : data)
        if (sameSender(e, wanted)) {
            entry = &e;  // the first one: the one that applies
            break;
        }
    if (!entry) {
        data.push_back(*value);
        return build(doc, "value", false);
    }
    for (auto it = value->begin(); it != value->end(); ++it) {
        if (it.key() == "sender")
            continue;  // keep the existing spelling
        if (it.key() == "home_countries" && it->is_object() &&
            (*entry)["home_countries"].is_object()) {
            for (auto h = it->begin(); h != it->end(); ++h)
                (*entry)["home_countries"][h.key()] = *h;
            continue;
        }
        (*entry)[it.key()] = *it;
    }
    return build(doc, "value", false);
}

EditResult removeEntry(const CustomSettings &current, const json &body)
{
    std::string sender, error;
    if (!readSenderKey(body, sender, error))
        return fail(error);
    json doc = currentDocument(current);
    json &data = doc["data"];
    const std::string wanted = lowerAscii(sender);
    json kept = json::array();
    for (auto &e : data)
        if (!sameSender(e, wanted))
            kept.push_back(std::move(e));
    if (kept.size() == data.size())
        return fail("no custom settings entry for sender \"" + sender + "\"", 404);
    data = std::move(kept);
    return build(doc, "custom settings", false);
}

EditResult replaceAllRequest(const AdminRequest &req)
{
    json body;
    std::string error;
    if (!parseJsonBody(req, body, error))
        return fail(error);
    return replaceAll(body);
}

EditResult modifyEntryRequest(const CustomSettings &current, const AdminRequest &req)
{
    json body;
    std::string error;
    if (!parseJsonBody(req, body, error))
        return fail(error);
    return modifyEntry(current, body);
}

EditResult removeEntryRequest(const CustomSettings &current, const AdminRequest &req)
{
    json body;
    std::string error;
    if (!parseJsonBody(req, body, error))
        return fail(error);
    return removeEntry(current, body);
}

bool readUnlockRequest(const AdminRequest &req, std::string &sender, std::string &error)
{
    json body;
    return parseJsonBody(req, body, error) && readSenderKey(body, sender, error);
}

}  // namespace geopol::limits
