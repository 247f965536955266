// Fuzz target: the Postfix policy protocol parser (core/protocol).
//
// The input is a byte stream as a client would send it. It is parsed twice:
// in one piece, and in chunks whose sizes come from the input's tail, the
// way reads arrive on a socket. Both must yield the same requests and the
// same verdict, since TCP may split a stream anywhere. Limits are either the
// defaults or small ones, so every limit is reachable within -max_len.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "knobs.hpp"
#include "protocol/policy_parser.hpp"

using geopol::Request;
using geopol::core::ParserLimits;
using geopol::core::PolicyParser;

namespace {

struct Outcome {
    std::vector<std::vector<std::pair<std::string, std::string>>> requests;
    bool error = false;
};

void checkRequest(const Request &req, const ParserLimits &limits, Outcome &out)
{
    FUZZ_CHECK(req.attributeCount() >= 1);
    FUZZ_CHECK(req.attributeCount() <= limits.maxAttributes);
    auto &copy = out.requests.emplace_back();
    size_t bytes = 0;
    for (size_t i = 0; i < req.attributeCount(); ++i) {
        const auto &a = req.attributeAt(i);
        FUZZ_CHECK(!a.name.empty());
        FUZZ_CHECK(a.name.find_first_of(std::string_view("=\n\0", 3)) == std::string::npos);
        FUZZ_CHECK(a.value.find_first_of(std::string_view("\n\0", 2)) == std::string::npos);
        FUZZ_CHECK(a.name.size() + 1 + a.value.size() <= limits.maxLineLength);
        bytes += a.name.size() + a.value.size() + 2;
        copy.emplace_back(a.name, a.value);
    }
    FUZZ_CHECK(bytes <= limits.maxRequestSize);
}

// Feeds `chunks` of `stream` like core/net/connection.cpp: unconsumed bytes
// stay buffered and are fed again with the next chunk; nothing is fed after
// an error (the connection is closed).
Outcome run(std::string_view stream, const std::vector<size_t> &chunks, const ParserLimits &limits)
{
    Outcome out;
    PolicyParser parser(limits);
    Request req;  // reused across requests, as a connection does
    std::string pending;
    size_t at = 0;
    uint64_t generation = 0;
    for (size_t chunk : chunks) {
        pending.append(stream.substr(at, chunk));
        at += chunk;
        size_t off = 0;
        while (off < pending.size()) {
            if (!parser.inRequest()) {
                parser.setLimits(limits);
                req.coreReset(++generation);
            }
            std::string_view data(pending.data() + off, pending.size() - off);
            size_t used = 0;
            auto r = parser.feed(data, used, req);
            if (r == PolicyParser::Result::Error) {
                FUZZ_CHECK(!parser.error().empty());
                out.error = true;
                return out;
            }
            FUZZ_CHECK(used <= data.size());
            off += used;
            if (r == PolicyParser::Result::NeedMore) {
                // Every complete line was consumed, and what stays buffered
                // is bounded: a client cannot grow a connection's memory.
                FUZZ_CHECK(data.substr(used).find('\n') == std::string_view::npos);
                FUZZ_CHECK(data.size() - used <= limits.maxLineLength + 1);
                // Bytes held back are a request begun: the connection must
                // run the read timeout, not the idle one, or a client could
                // trickle a first line for hours.
                if (used < data.size())
                    FUZZ_CHECK(parser.inRequest());
                break;
            }
            checkRequest(req, limits, out);
        }
        pending.erase(0, off);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view stream(reinterpret_cast<const char *>(data), size);
    geopol::fuzz::Knobs knobs(data, size);

    ParserLimits limits;
    if (knobs.flag()) {
        limits.maxLineLength = knobs.range(0, 80);
        limits.maxRequestSize = knobs.range(0, 600);
        limits.maxAttributes = knobs.range(0, 12);
    }

    Outcome whole = run(stream, {size}, limits);

    std::vector<size_t> chunks;
    for (size_t left = size; left > 0;) {
        // Mostly small reads (the interesting splits), sometimes a big one;
        // the rest in one read once the knobs are used up (1-byte reads of a
        // long input would only be slow).
        size_t n = knobs.exhausted() ? left
                   : knobs.flag()    ? knobs.range(1, 16)
                                     : knobs.range(1, 4096);
        n = std::min(n, left);
        chunks.push_back(n);
        left -= n;
    }
    Outcome split = run(stream, chunks, limits);

    FUZZ_CHECK(whole.error == split.error);
    FUZZ_CHECK(whole.requests == split.requests);
    return 0;
}
