// message_template.cpp
#include "message_template.hpp"

#include <algorithm>

namespace geopol::operator_mail {

namespace {

bool isNameStart(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

bool isNameChar(char c)
{
    return isNameStart(c) || (c >= '0' && c <= '9');
}

}  // namespace

bool MessageTemplate::parse(std::string_view text, const std::vector<std::string_view> &known,
                            std::string &error)
{
    segments_.clear();
    usesPercentS_ = false;
    std::string literal;
    auto flush = [&] {
        if (!literal.empty())
            segments_.push_back({std::move(literal), false});
        literal.clear();
    };
    auto placeholder = [&](std::string name) {
        flush();
        segments_.push_back({std::move(name), true});
    };

    int line = 1;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        char next = i + 1 < text.size() ? text[i + 1] : '\0';
        if (c == '\n')
            ++line;
        if ((c == '{' && next == '{') || (c == '}' && next == '}') || (c == '%' && next == '%')) {
            literal += c;
            ++i;
            continue;
        }
        if (c == '%' && next == 's') {
            usesPercentS_ = true;
            placeholder("account");
            ++i;
            continue;
        }
        if (c == '{' && isNameStart(next)) {
            size_t end = i + 1;
            while (end < text.size() && isNameChar(text[end]))
                ++end;
            if (end < text.size() && text[end] == '}') {
                std::string_view name = text.substr(i + 1, end - i - 1);
                if (std::find(known.begin(), known.end(), name) == known.end()) {
                    error = "line " + std::to_string(line) + ": unknown placeholder {" +
                            std::string(name) + "}; known are";
                    for (std::string_view k : known)
                        error += " {" + std::string(k) + "}";
                    error += " (write {{ for a literal brace)";
                    return false;
                }
                placeholder(std::string(name));
                i = end;
                continue;
            }
        }
        literal += c;
    }
    flush();
    return true;
}

std::string MessageTemplate::expand(const Values &values) const
{
    std::string out;
    for (const Segment &s : segments_) {
        if (!s.placeholder) {
            out += s.text;
            continue;
        }
        auto it = values.find(s.text);
        if (it != values.end())
            out += it->second;
    }
    return out;
}

}  // namespace geopol::operator_mail
