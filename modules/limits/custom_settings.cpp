// custom_settings.cpp - parsing, validation, lookup and serialisation.
#include "custom_settings.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace geopol::limits {

using nlohmann::json;
using nlohmann::ordered_json;

std::string lowerAscii(std::string_view s)
{
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool normaliseCountryCode(std::string_view code, std::string &out)
{
    if (code.size() != 2)
        return false;
    out.clear();
    for (char c : code) {
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return false;
        out.push_back(c);
    }
    return true;
}

namespace {

// Thrown inside this file only, caught in fromJson(): keeps the field checks
// linear instead of threading an error string through every helper.
struct FieldError {
    std::string message;
};

// "custom.json: data[2] (sender "a@b"): "ips""
class Where {
public:
    Where(std::string_view source, size_t index) : source_(source), index_(index) {}
    void setSender(std::string_view s) { sender_ = s; }

    [[noreturn]] void fail(std::string_view field, std::string_view problem) const
    {
        std::string m(source_);
        m += ": data[" + std::to_string(index_) + "]";
        if (!sender_.empty())
            m += " (sender \"" + sender_ + "\")";
        m += ": \"";
        m += field;
        m += "\" ";
        m += problem;
        throw FieldError{std::move(m)};
    }

private:
    std::string_view source_;
    size_t index_;
    std::string sender_;
};

std::string typeProblem(const json &v, std::string_view wanted)
{
    std::string m = "must be " + std::string(wanted) + ", not " + v.type_name();
    // A list or object is named by its type only: dump() recurses once per
    // nesting level, and a body of 100k '[' overflows the stack (found by
    // tests/fuzz); it would also copy the whole body into the message.
    if (v.is_primitive())
        m += " " + v.dump(-1, ' ', false, json::error_handler_t::replace);
    return m;
}

std::string readString(const json &obj, const char *key, const Where &where, std::string_view field)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return {};
    if (!it->is_string())
        where.fail(field, typeProblem(*it, "a string"));
    return it->get<std::string>();
}

uint32_t readCount(const json &obj, const char *key, const Where &where, std::string_view field)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return 0;
    if (it->is_number_unsigned()) {
        uint64_t v = it->get<uint64_t>();
        if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
            where.fail(field, "is too large");
        return static_cast<uint32_t>(v);
    }
    if (it->is_number_integer()) {
        // Signed: negative, or "-0", which JSON allows and means 0.
        if (it->get<int64_t>() == 0)
            return 0;
        where.fail(field, "must be 0 or more (0 means the default), not " + it->dump());
    }
    where.fail(field, typeProblem(*it, "a whole number"));
}

std::vector<std::string> readCountryList(const json &obj, const char *key, const Where &where,
                                         const std::string &field)
{
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return out;
    if (!it->is_array())
        where.fail(field, typeProblem(*it, "a list of country codes"));
    for (size_t i = 0; i < it->size(); ++i) {
        const json &v = (*it)[i];
        std::string f = field + "[" + std::to_string(i) + "]";
        if (!v.is_string())
            where.fail(f, typeProblem(v, "a country code string"));
        std::string code;
        if (!normaliseCountryCode(v.get<std::string>(), code))
            where.fail(f, "\"" + v.get<std::string>() +
                              "\" is not a two-letter ISO 3166 country code such as \"DE\"");
        out.push_back(std::move(code));
    }
    return out;
}

void readTrustedIps(const json &obj, const Where &where, CustomEntry &e)
{
    auto it = obj.find("trusted_ips");
    if (it == obj.end() || it->is_null())
        return;
    if (!it->is_array())
        where.fail("trusted_ips", typeProblem(*it, "a list of IP addresses or CIDR networks"));
    for (size_t i = 0; i < it->size(); ++i) {
        const json &v = (*it)[i];
        std::string f = "trusted_ips[" + std::to_string(i) + "]";
        if (!v.is_string())
            where.fail(f, typeProblem(v, "an IP address or CIDR network string"));
        const std::string &text = v.get_ref<const std::string &>();
        auto net = IpNetwork::parse(text);
        if (!net)
            where.fail(f, "\"" + text +
                              "\" is not an IP address or CIDR network (e.g. \"192.0.2.7\", "
                              "\"10.0.0.0/8\", \"2001:db8::/32\")");
        e.trustedIpTexts.push_back(text);
        e.trustedIps.push_back(*net);
    }
}

CustomEntry readEntry(const json &v, const Where &whereIn)
{
    Where where = whereIn;
    if (!v.is_object())
        where.fail("entry", typeProblem(v, "an object"));
    CustomEntry e;
    e.sender = readString(v, "sender", where, "sender");
    if (e.sender.empty())
        where.fail("sender", "is missing or empty: the entry could never match");
    where.setSender(e.sender);
    e.comment = readString(v, "comment", where, "comment");
    e.ips = readCount(v, "ips", where, "ips");
    e.countries = readCount(v, "countries", where, "countries");
    e.trustedCountries = readCountryList(v, "trusted_countries", where, "trusted_countries");
    readTrustedIps(v, where, e);

    auto home = v.find("home_countries");
    if (home != v.end() && !home->is_null()) {
        if (!home->is_object())
            where.fail("home_countries",
                       typeProblem(*home, "an object {\"codes\":[...],\"ips\":N,\"countries\":N}"));
        HomeOverride h;
        h.codes = readCountryList(*home, "codes", where, "home_countries.codes");
        h.ips = readCount(*home, "ips", where, "home_countries.ips");
        h.countries = readCount(*home, "countries", where, "home_countries.countries");
        e.home = std::move(h);
    }
    return e;
}

}  // namespace

CustomSettings::ParseResult CustomSettings::fromJson(const json &doc, std::string_view source)
{
    ParseResult r;
    auto settings = std::make_shared<CustomSettings>();
    // The reference accepts {} and null as "no entries" (GET then shows null).
    if (!doc.is_null() && !doc.is_object()) {
        r.error = std::string(source) + ": the top level must be an object {\"data\":[...]}, not " +
                  doc.type_name();
        return r;
    }
    const json *data = nullptr;
    if (doc.is_object()) {
        auto it = doc.find("data");
        if (it != doc.end() && !it->is_null()) {
            if (!it->is_array()) {
                r.error = std::string(source) + ": \"data\" must be a list of entries, not " +
                          it->type_name();
                return r;
            }
            data = &*it;
        }
    }
    if (data) {
        settings->entries_.reserve(data->size());
        try {
            for (size_t i = 0; i < data->size(); ++i)
                settings->entries_.push_back(readEntry((*data)[i], Where(source, i)));
        } catch (const FieldError &e) {
            // Unlike the reference, which keeps the entries before the bad one,
            // refuse the whole file: half a policy is worse than the old one.
            r.error = e.message;
            return r;
        }
    }
    for (size_t i = 0; i < settings->entries_.size(); ++i) {
        auto [it, inserted] = settings->index_.emplace(lowerAscii(settings->entries_[i].sender), i);
        if (!inserted)
            r.warnings.push_back(std::string(source) + ": data[" + std::to_string(i) +
                                 "] repeats sender \"" + settings->entries_[i].sender +
                                 "\" of data[" + std::to_string(it->second) +
                                 "] and is ignored (first match wins)");
    }
    r.settings = std::move(settings);
    return r;
}

CustomSettings::ParseResult CustomSettings::parse(std::string_view text, std::string_view source)
{
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception &e) {
        ParseResult r;
        // Drop nlohmann's "[json.exception.parse_error.101] " tag: noise to an admin.
        std::string what = e.what();
        auto tag = what.find("] ");
        if (what.rfind("[json.exception", 0) == 0 && tag != std::string::npos)
            what.erase(0, tag + 2);
        r.error = std::string(source) + ": not valid JSON: " + what;
        return r;
    }
    return fromJson(doc, source);
}

CustomSettings::ParseResult CustomSettings::load(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ParseResult r;
        r.error = "cannot read custom settings file " + path + ": " + std::strerror(errno);
        return r;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        ParseResult r;
        r.error = "cannot read custom settings file " + path + ": " + std::strerror(errno);
        return r;
    }
    return parse(text.str(), path);
}

const CustomEntry *CustomSettings::find(std::string_view account) const
{
    if (index_.empty())
        return nullptr;
    // facts.account is already lower case; lower-case anyway so REST and
    // other callers may pass an address as typed.
    auto it = index_.find(lowerAscii(account));
    return it == index_.end() ? nullptr : &entries_[it->second];
}

ordered_json CustomSettings::entryToJson(const CustomEntry &e)
{
    auto listOrNull = [](const std::vector<std::string> &v) {
        return v.empty() ? ordered_json(nullptr) : ordered_json(v);
    };
    ordered_json j;
    j["comment"] = e.comment;
    j["sender"] = e.sender;
    j["ips"] = e.ips;
    j["countries"] = e.countries;
    j["trusted_countries"] = listOrNull(e.trustedCountries);
    j["trusted_ips"] = listOrNull(e.trustedIpTexts);
    if (e.home) {
        ordered_json h;
        h["codes"] = listOrNull(e.home->codes);
        h["ips"] = e.home->ips;
        h["countries"] = e.home->countries;
        j["home_countries"] = std::move(h);
    } else {
        j["home_countries"] = nullptr;
    }
    return j;
}

ordered_json CustomSettings::toJson() const
{
    ordered_json data = ordered_json::array();
    for (const auto &e : entries_)
        data.push_back(entryToJson(e));
    ordered_json doc;
    doc["data"] = std::move(data);
    return doc;
}

std::string CustomSettings::serialize() const
{
    return toJson().dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace geopol::limits
