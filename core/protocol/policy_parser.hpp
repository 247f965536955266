// policy_parser.hpp - incremental parser for Postfix policy delegation
// requests: "name=value\n" lines ended by an empty line.
//
// The parser consumes complete lines only and adds each attribute straight
// into the Request, so a connection keeps no copy of what it already parsed.
// Anything Postfix would never send (a line without '=', a NUL byte, an
// over-long line, too many attributes, an over-large request) is a protocol
// error: the connection is logged and dropped without a reply, which makes
// Postfix retry (SMTPD_POLICY_README).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "geopol/request.hpp"

namespace geopol::core {

struct ParserLimits {
    size_t maxLineLength = 4096;    ///< bytes in one line, without the newline
    size_t maxRequestSize = 65536;  ///< bytes in one request, newlines included
    size_t maxAttributes = 128;     ///< attributes in one request
};

class PolicyParser {
public:
    enum class Result {
        NeedMore,  ///< everything complete was consumed; wait for more bytes
        Complete,  ///< a whole request is in the Request; `consumed` bytes used
        Error,     ///< protocol error; see error()
    };

    explicit PolicyParser(const ParserLimits &limits = {}) : limits_(limits) {}

    /// New limits apply from the next line on (a reload may change them).
    void setLimits(const ParserLimits &limits) { limits_ = limits; }

    /// Parses from `data`. On Complete and NeedMore, `consumed` tells how many
    /// bytes were used (the rest is an incomplete line, to be fed again with
    /// more data appended). Call req.coreReset() before the first line of each
    /// request; inRequest() says whether a request has begun.
    Result feed(std::string_view data, size_t &consumed, Request &req);

    /// Also true while the caller holds an incomplete line from the last
    /// feed(): a client trickling its first line is inside a request (read
    /// timeout), not idle.
    bool inRequest() const { return attributes_ > 0 || bytes_ > 0 || partialLine_; }
    const std::string &error() const { return error_; }

    /// Forget a partial request (connection reset).
    void reset()
    {
        attributes_ = 0;
        bytes_ = 0;
        partialLine_ = false;
    }

private:
    ParserLimits limits_;
    size_t attributes_ = 0;
    size_t bytes_ = 0;
    bool partialLine_ = false;  ///< the last feed() left an incomplete line
    std::string error_;
};

}  // namespace geopol::core
