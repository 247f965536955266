// policy_parser.cpp
#include "protocol/policy_parser.hpp"

#include <cstring>

namespace geopol::core {

PolicyParser::Result PolicyParser::feed(std::string_view data, size_t &consumed, Request &req)
{
    consumed = 0;
    partialLine_ = false;
    // One scan for NUL over everything read instead of one per line: the
    // first NUL fails the line it is in, and that line only.
    const char *nul = static_cast<const char *>(std::memchr(data.data(), '\0', data.size()));
    size_t nulAt = nul ? static_cast<size_t>(nul - data.data()) : data.size();
    while (consumed < data.size()) {
        std::string_view rest = data.substr(consumed);
        const char *nl = static_cast<const char *>(std::memchr(rest.data(), '\n', rest.size()));
        if (!nl) {
            // An incomplete line: refuse early if it can no longer fit.
            if (rest.size() > limits_.maxLineLength + 1) {
                error_ = "line longer than " + std::to_string(limits_.maxLineLength) + " bytes";
                return Result::Error;
            }
            partialLine_ = true;
            return Result::NeedMore;
        }
        size_t lineLen = static_cast<size_t>(nl - rest.data());
        std::string_view line = rest.substr(0, lineLen);
        consumed += lineLen + 1;
        bytes_ += lineLen + 1;

        if (!line.empty() && line.back() == '\r')  // tolerate CRLF from hand-made clients
            line.remove_suffix(1);
        if (line.size() > limits_.maxLineLength) {
            error_ = "line longer than " + std::to_string(limits_.maxLineLength) + " bytes";
            return Result::Error;
        }
        if (bytes_ > limits_.maxRequestSize) {
            error_ = "request larger than " + std::to_string(limits_.maxRequestSize) + " bytes";
            return Result::Error;
        }
        if (line.empty()) {
            if (attributes_ == 0) {
                // A lone empty line before any attribute: nothing to answer.
                // Postfix never sends it; skipping it keeps the framing intact.
                bytes_ = 0;
                continue;
            }
            attributes_ = 0;
            bytes_ = 0;
            return Result::Complete;
        }
        if (nulAt < consumed) {  // inside this line (earlier lines had none)
            error_ = "NUL byte in request";
            return Result::Error;
        }
        const char *eqAt = static_cast<const char *>(std::memchr(line.data(), '=', line.size()));
        if (eqAt == nullptr || eqAt == line.data()) {
            error_ = eqAt ? "attribute without a name" : "line without '=' (not name=value)";
            return Result::Error;
        }
        if (++attributes_ > limits_.maxAttributes) {
            error_ = "more than " + std::to_string(limits_.maxAttributes) + " attributes";
            return Result::Error;
        }
        req.coreAddLine(line, static_cast<size_t>(eqAt - line.data()));
    }
    return Result::NeedMore;
}

}  // namespace geopol::core
