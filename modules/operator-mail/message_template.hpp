// message_template.hpp - the operator message's text with placeholders.
//
// `{name}` stands for a value of the blocked account (message.hpp lists
// them); `{{` and `}}` are literal braces. Templates written for
// geoip-policyd keep working: their `%s` is the account and `%%` a percent
// sign. Every other `%` and every `{` that does not start a placeholder stay
// as written (the reference's printf turned a stray `%` into garbage).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace geopol::operator_mail {

using Values = std::map<std::string, std::string, std::less<>>;

class MessageTemplate {
public:
    /// Parses `text`. False with `error` ("line 3: unknown placeholder
    /// {acount} ...") when a `{name}` is not one of `known`.
    bool parse(std::string_view text, const std::vector<std::string_view> &known,
               std::string &error);

    /// The text with every placeholder replaced by its value ("" if absent).
    std::string expand(const Values &values) const;

    /// The template had the reference's `%s` macro.
    bool usesPercentS() const { return usesPercentS_; }

private:
    struct Segment {
        std::string text;  ///< literal text, or the placeholder's name
        bool placeholder = false;
    };
    std::vector<Segment> segments_;
    bool usesPercentS_ = false;
};

}  // namespace geopol::operator_mail
