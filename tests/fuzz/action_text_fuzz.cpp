// Fuzz target: the check of the action text geopold answers with
// (core::validActionText), against an independent reading of the rules.
//
// A module may build its reply from request attributes ("REJECT <sender>
// ..."), so the check sees whatever a client sends. What it lets through
// goes to Postfix verbatim; Postfix refuses a reply with malformed UTF-8 as
// a server configuration error (451 for everyone), so the core must refuse
// exactly what Postfix would and fall back to the failure action instead.
// The input is a policy request stream; the whole input, each line, and
// each parsed value are checked.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/policy_parser.hpp"
#include "server_settings.hpp"

using geopol::Request;
using geopol::core::PolicyParser;
using geopol::core::validActionText;

namespace {

// RFC 3629 section 4 (the UTF8-octets grammar) written out as byte ranges,
// plus one line of printable text: no C0 control and no DEL.
bool referenceValid(std::string_view s)
{
    if (s.empty())
        return false;
    auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
    size_t i = 0;
    while (i < s.size()) {
        auto b = [&](size_t k) -> unsigned char {
            return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
        };
        unsigned char c = b(0);
        size_t n;
        if (in(c, 0x20, 0x7e))
            n = 1;
        else if (in(c, 0xc2, 0xdf) && in(b(1), 0x80, 0xbf))
            n = 2;
        else if ((c == 0xe0 && in(b(1), 0xa0, 0xbf)) ||
                 (in(c, 0xe1, 0xec) && in(b(1), 0x80, 0xbf)) ||
                 (c == 0xed && in(b(1), 0x80, 0x9f)) || (in(c, 0xee, 0xef) && in(b(1), 0x80, 0xbf)))
            n = in(b(2), 0x80, 0xbf) ? 3 : 0;
        else if ((c == 0xf0 && in(b(1), 0x90, 0xbf)) ||
                 (in(c, 0xf1, 0xf3) && in(b(1), 0x80, 0xbf)) || (c == 0xf4 && in(b(1), 0x80, 0x8f)))
            n = in(b(2), 0x80, 0xbf) && in(b(3), 0x80, 0xbf) ? 4 : 0;
        else
            n = 0;
        if (n == 0 || i + n > s.size())
            return false;
        i += n;
    }
    return true;
}

void check(std::string_view text)
{
    bool got = validActionText(text);
    bool want = referenceValid(text);
    if (got != want) {
        std::string hex;
        for (unsigned char c : text.substr(0, 64)) {
            static const char digits[] = "0123456789abcdef";
            hex += digits[c >> 4];
            hex += digits[c & 15];
        }
        std::fprintf(stderr, "validActionText says %d, RFC 3629 says %d for %s\n", got, want,
                     hex.c_str());
    }
    FUZZ_CHECK(got == want);
    if (got)  // what goes to Postfix must stay one line
        FUZZ_CHECK(text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view stream(reinterpret_cast<const char *>(data), size);
    check(stream);
    for (size_t start = 0; start < stream.size();) {
        size_t nl = stream.find('\n', start);
        size_t end = nl == std::string_view::npos ? stream.size() : nl;
        check(stream.substr(start, end - start));
        start = end + 1;
    }

    PolicyParser parser;
    Request req;
    req.coreReset(1);
    size_t off = 0;
    while (off < stream.size()) {
        size_t used = 0;
        auto r = parser.feed(stream.substr(off), used, req);
        if (r != PolicyParser::Result::Complete)
            break;
        off += used;
        for (size_t i = 0; i < req.attributeCount(); ++i) {
            std::string v(req.attributeAt(i).value);
            check(v);
            check("REJECT Policy violation for " + v);
        }
        req.coreReset(2);
    }
    return 0;
}
