// reply.cpp - reply parsing.
#include "reply.hpp"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "scripts.hpp"

namespace geopol::redis_store {

namespace {

bool startsWith(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

std::string_view text(const redisReply *r)
{
    return {r->str, r->len};
}

bool isString(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

bool toPort(std::string_view s, int &port)
{
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    return ec == std::errc() && end == s.data() + s.size() && port > 0 && port < 65536;
}

uint32_t count(long long v)
{
    return v < 0 ? 0 : static_cast<uint32_t>(v);
}

}  // namespace

ErrorKind classifyError(std::string_view message)
{
    if (startsWith(message, "NOSCRIPT"))
        return ErrorKind::NoScript;
    if (startsWith(message, "READONLY"))
        return ErrorKind::ReadOnly;
    for (std::string_view busy : {"LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN"})
        if (startsWith(message, busy))
            return ErrorKind::Busy;
    return ErrorKind::Plain;
}

std::string describe(const redisReply *r)
{
    if (!r)
        return "no reply";
    std::string s;
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            s.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            s = std::to_string(r->integer);
            break;
        case REDIS_REPLY_NIL:
            s = "nil";
            break;
        case REDIS_REPLY_ARRAY:
            s = fmt::format("array of {}", r->elements);
            break;
        default:
            s = fmt::format("reply of type {}", r->type);
    }
    if (s.size() > 200)
        s = s.substr(0, 200) + "...";
    return s;
}

bool parseStateReply(const redisReply *r, bool lists, StoreResult &out, std::string &error)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < kReplyFields) {
        error = "unexpected script reply: " + describe(r);
        return false;
    }
    long long v[kReplyFields];
    for (size_t i = 0; i < kReplyFields; ++i) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER) {
            error =
                fmt::format("unexpected script reply: field {} is {}", i, describe(r->element[i]));
            return false;
        }
        v[i] = r->element[i]->integer;
    }
    if (v[5] < 0 || v[5] > 2) {
        error = fmt::format("unexpected script reply: block state {}", v[5]);
        return false;
    }
    out.found = v[0] != 0;
    AccountState &s = out.state;
    s.foreignIps = count(v[1]);
    s.foreignCountries = count(v[2]);
    s.homeIps = count(v[3]);
    s.homeCountries = count(v[4]);
    s.block = static_cast<BlockState>(v[5]);
    s.blockTtlSeconds = v[6];
    s.ttlSeconds = v[7];
    out.newly = v[8] != 0;
    if (!lists)
        return true;
    if (r->elements < kReplyFields + kReplyListCount) {
        error = "unexpected script reply: the lists are missing";
        return false;
    }
    std::vector<std::string> *targets[kReplyListCount] = {&s.foreignIpList, &s.foreignCountryList,
                                                          &s.homeIpList, &s.homeCountryList};
    for (size_t i = 0; i < kReplyListCount; ++i) {
        const redisReply *list = r->element[kReplyFields + i];
        std::vector<std::string> &target = *targets[i];
        target.clear();
        // Lua turns an empty table into an empty array; anything else is wrong.
        if (list->type != REDIS_REPLY_ARRAY) {
            error = "unexpected script reply: list " + std::to_string(i) + " is " + describe(list);
            return false;
        }
        target.reserve(list->elements);
        for (size_t j = 0; j < list->elements; ++j)
            if (isString(list->element[j]))
                target.emplace_back(text(list->element[j]));
    }
    return true;
}

bool parseMasterAddress(const redisReply *r, Endpoint &out, std::string &error)
{
    if (r && r->type == REDIS_REPLY_NIL) {
        error = "Sentinel does not know this master name";
        return false;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !isString(r->element[0]) ||
        !isString(r->element[1])) {
        error = "unexpected reply to SENTINEL get-master-addr-by-name: " + describe(r);
        return false;
    }
    int port = 0;
    if (!toPort(text(r->element[1]), port)) {
        error = "Sentinel sent a bad port: " + describe(r->element[1]);
        return false;
    }
    out = Endpoint{std::string(text(r->element[0])), port, false};
    return true;
}

bool pickReplica(const redisReply *r, Endpoint &out)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return false;
    for (size_t i = 0; i < r->elements; ++i) {
        const redisReply *fields = r->element[i];
        if (fields->type != REDIS_REPLY_ARRAY)
            continue;
        std::string_view ip, port, flags, link;
        for (size_t j = 0; j + 1 < fields->elements; j += 2) {
            if (!isString(fields->element[j]) || !isString(fields->element[j + 1]))
                continue;
            std::string_view name = text(fields->element[j]), value = text(fields->element[j + 1]);
            if (name == "ip")
                ip = value;
            else if (name == "port")
                port = value;
            else if (name == "flags")
                flags = value;
            else if (name == "master-link-status")
                link = value;
        }
        int p = 0;
        bool down = flags.find("s_down") != std::string_view::npos ||
                    flags.find("o_down") != std::string_view::npos ||
                    flags.find("disconnected") != std::string_view::npos;
        if (!ip.empty() && toPort(port, p) && !down && link == "ok") {
            out = Endpoint{std::string(ip), p, false};
            return true;
        }
    }
    return false;
}

std::string_view roleOf(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0 || !isString(r->element[0]))
        return {};
    return text(r->element[0]);
}

bool parseSwitchMaster(std::string_view s, std::string &name, Endpoint &to)
{
    std::vector<std::string_view> words;
    while (!s.empty()) {
        auto space = s.find(' ');
        words.push_back(s.substr(0, space));
        if (space == std::string_view::npos)
            break;
        s.remove_prefix(space + 1);
    }
    int port = 0;
    if (words.size() != 5 || !toPort(words[4], port))
        return false;
    name.assign(words[0]);
    to = Endpoint{std::string(words[3]), port, false};
    return true;
}

}  // namespace geopol::redis_store
