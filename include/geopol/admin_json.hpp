// admin_json.hpp - reading the JSON body of an admin request.
//
// The same rules for every JSON endpoint: Content-Type must be
// application/json (parameters such as charset are fine, as in the
// reference), the body must hold one JSON value, and what follows that value
// is ignored. The last rule is Go's json.Decoder behaviour, which the
// reference relied on: three of the README's curl examples end in a stray
// '"' after the object and must keep working.
//
// Shared by every module that registers JSON admin commands (limits,
// rest-admin), so the rules cannot drift apart.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "geopol/admin.hpp"

namespace geopol {

/// Length of the first JSON value in `text` (leading whitespace included),
/// found by bracket matching outside strings; the whole text for a scalar.
/// Malformed input is left to the parser, which then names the problem.
inline size_t firstJsonValueLength(std::string_view text)
{
    size_t i = 0;
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        ++i;
    if (i == text.size() || (text[i] != '{' && text[i] != '['))
        return text.size();
    int depth = 0;
    bool inString = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"')
            inString = true;
        else if (c == '{' || c == '[')
            ++depth;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
    }
    return text.size();
}

/// The deepest nesting of lists and objects in `text` (strings skipped).
inline int jsonNestingDepth(std::string_view text)
{
    int depth = 0, deepest = 0;
    bool inString = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

/// No admin body needs more; deeper ones are refused before parsing, since
/// copying or printing a parsed value recurses once per level.
inline constexpr int kMaxJsonDepth = 32;

/// The media type of a Content-Type value, lower-cased, without parameters.
inline std::string mediaType(std::string_view contentType)
{
    auto semi = contentType.find(';');
    std::string_view t = contentType.substr(0, semi);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t'))
        t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
        t.remove_suffix(1);
    std::string out(t);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Checks the Content-Type and parses the body into `out`. On failure
/// returns false and sets `error` to a message for a 400 answer.
/// `trailing` tells whether text after the JSON value was ignored.
inline bool parseJsonBody(const AdminRequest &req, nlohmann::json &out, std::string &error,
                          bool *trailing = nullptr)
{
    std::string type = mediaType(req.contentType);
    if (type != "application/json") {
        error = "Content-Type must be application/json, not " +
                (req.contentType.empty() ? std::string("missing") : "\"" + req.contentType + "\"");
        return false;
    }
    size_t end = firstJsonValueLength(req.body);
    std::string_view value = std::string_view(req.body).substr(0, end);
    if (value.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        error = "the request body is empty; a JSON object was expected";
        return false;
    }
    if (jsonNestingDepth(value) > kMaxJsonDepth) {
        error = "the JSON is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep";
        return false;
    }
    try {
        out = nlohmann::json::parse(value);
    } catch (const nlohmann::json::exception &e) {
        std::string what = e.what();
        auto tag = what.find("] ");
        if (what.rfind("[json.exception", 0) == 0 && tag != std::string::npos)
            what.erase(0, tag + 2);
        error = "the body is not valid JSON: " + what;
        return false;
    }
    if (trailing)
        *trailing = std::string_view(req.body).substr(end).find_first_not_of(" \t\r\n") !=
                    std::string_view::npos;
    return true;
}

/// "must be a string, not number 5": for wrong-type messages.
inline std::string describeJson(const nlohmann::json &v)
{
    // Lists and objects by their type only: dump() recurses once per nesting
    // level, and a body of 30k '[' would overflow the loop thread's stack.
    if (!v.is_primitive())
        return v.type_name();
    std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 60)
        text = text.substr(0, 57) + "...";
    return std::string(v.type_name()) + " " + text;
}

/// The first key of `obj` not in `allowed`, or "" when all are known.
inline std::string unknownKey(const nlohmann::json &obj,
                              std::initializer_list<std::string_view> allowed)
{
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool known = false;
        for (std::string_view a : allowed)
            known = known || it.key() == a;
        if (!known)
            return it.key();
    }
    return {};
}

inline AdminResponse badRequest(const std::string &message)
{
    return AdminResponse{400, "application/json", adminErrorBody(message)};
}

}  // namespace geopol
