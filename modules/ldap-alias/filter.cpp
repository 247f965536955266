// filter.cpp
#include "filter.hpp"

#include <ldap.h>

#include <cctype>
#include <new>

namespace geopol::ldap_alias {

std::string escapeFilterValue(std::string_view value)
{
    berval in;
    in.bv_len = value.size();
    in.bv_val = const_cast<char *>(value.data());  // read only: libldap's API is not const
    berval out{0, nullptr};
    if (ldap_bv2escaped_filter_value(&in, &out) != 0 || (out.bv_val == nullptr && !value.empty()))
        throw std::bad_alloc();  // its only failure is an allocation failure
    std::string escaped(out.bv_val ? out.bv_val : "", out.bv_len);
    ber_memfree(out.bv_val);
    return escaped;
}

std::string buildFilter(std::string_view tmpl, std::string_view value)
{
    const std::string escaped = escapeFilterValue(value);
    std::string out;
    out.reserve(tmpl.size() + escaped.size());
    for (size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '%' && i + 1 < tmpl.size() && tmpl[i + 1] == 's') {
            out += escaped;
            ++i;
        } else {
            out += tmpl[i];
        }
    }
    return out;
}

std::string normalizeFilterTemplate(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    size_t i = 0;
    while (i < raw.size()) {
        char c = raw[i];
        if (c == '\n' || c == '\r') {
            // Drop the white space before the break, the break, and what follows it.
            while (!out.empty() && (out.back() == ' ' || out.back() == '\t'))
                out.pop_back();
            while (i < raw.size() && std::isspace(static_cast<unsigned char>(raw[i])))
                ++i;
            continue;
        }
        out += c;
        ++i;
    }
    // Leading and trailing blanks around the whole filter are never meant.
    size_t b = out.find_first_not_of(" \t");
    size_t e = out.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

std::optional<std::string> checkFilterTemplate(std::string_view tmpl)
{
    if (tmpl.empty())
        return "must not be empty";
    if (tmpl.find("%s") == std::string_view::npos)
        return "must contain %s where the sender goes, e.g. (&(objectClass=*)(mailAlias=%s))";
    if (tmpl.front() != '(' || tmpl.back() != ')')
        return "must be enclosed in parentheses, e.g. (mailAlias=%s)";
    int depth = 0;
    for (char c : tmpl) {
        depth += c == '(' ? 1 : c == ')' ? -1 : 0;
        if (depth < 0)
            return "has a ')' without its '('";
    }
    if (depth != 0)
        return "has a '(' without its ')'";
    for (size_t i = 0; i < tmpl.size(); ++i) {
        char c = tmpl[i];
        if (c == '\\') {
            // An escape in the template itself (\2a): two hex digits follow.
            if (i + 2 >= tmpl.size() || !std::isxdigit(static_cast<unsigned char>(tmpl[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(tmpl[i + 2])))
                return "has a backslash that is not followed by two hex digits (RFC 4515)";
            i += 2;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            if (--depth == 0 && i + 1 != tmpl.size())
                return "has text after its closing parenthesis; combine filters with (&...)";
        }
    }
    return std::nullopt;
}

}  // namespace geopol::ldap_alias
