// The Postfix policy protocol parser: framing, splitting and limits.
#include "protocol/policy_parser.hpp"

#include <doctest/doctest.h>

using geopol::Request;
using geopol::core::ParserLimits;
using geopol::core::PolicyParser;
using Result = PolicyParser::Result;

namespace {

struct Fed {
    Result result;
    size_t consumed;
};

Fed feed(PolicyParser &p, Request &r, std::string_view data)
{
    size_t used = 0;
    Result res = p.feed(data, used, r);
    return {res, used};
}

}  // namespace

TEST_CASE("a request is complete at the empty line and splits each line at the first '='")
{
    PolicyParser p;
    Request r;
    std::string in = "request=smtpd_access_policy\nsender=f=x@example.com\nempty=\n\n";
    auto f = feed(p, r, in);
    CHECK(f.result == Result::Complete);
    CHECK(f.consumed == in.size());
    CHECK(r.attribute("request") == "smtpd_access_policy");
    CHECK(r.attribute("sender") == "f=x@example.com");
    CHECK(r.hasAttribute("empty"));
    CHECK(r.attribute("empty").empty());
    CHECK_FALSE(r.hasAttribute("unknown"));
}

TEST_CASE("pipelined requests in one buffer are returned one at a time, in order")
{
    PolicyParser p;
    Request r;
    std::string in = "sender=a\n\nsender=b\n\nsender=c\n";
    auto f1 = feed(p, r, in);
    REQUIRE(f1.result == Result::Complete);
    CHECK(r.attribute("sender") == "a");
    r.coreReset(2);
    auto f2 = feed(p, r, std::string_view(in).substr(f1.consumed));
    REQUIRE(f2.result == Result::Complete);
    CHECK(r.attribute("sender") == "b");
    r.coreReset(3);
    auto f3 = feed(p, r, std::string_view(in).substr(f1.consumed + f2.consumed));
    CHECK(f3.result == Result::NeedMore);
    CHECK(f3.consumed == 9);  // "sender=c\n" is taken; the request is still open
    CHECK(p.inRequest());
}

TEST_CASE("a line split across reads waits for its newline and is not consumed")
{
    PolicyParser p;
    Request r;
    auto f = feed(p, r, "sender=ab");
    CHECK(f.result == Result::NeedMore);
    CHECK(f.consumed == 0);
    f = feed(p, r, "sender=abc\n\n");
    CHECK(f.result == Result::Complete);
    CHECK(r.attribute("sender") == "abc");
}

// Found by tests/fuzz (policy_parser): with only part of its first line
// received, the parser said "no request begun", so the connection ran the
// idle timeout (10 min, renewed by every byte) instead of the read timeout,
// and a client sending a byte now and then held it for hours.
TEST_CASE("an incomplete first line is a request begun, a skipped empty line is not")
{
    PolicyParser p;
    Request r;
    CHECK_FALSE(p.inRequest());
    auto f = feed(p, r, "\xff");
    CHECK(f.result == Result::NeedMore);
    CHECK(f.consumed == 0);
    CHECK(p.inRequest());
    f = feed(p, r, "\xff=1\n\n\n");
    CHECK(f.result == Result::Complete);
    CHECK_FALSE(p.inRequest());
    f = feed(p, r, "\n");  // the empty line Postfix never sends: still idle
    CHECK(f.result == Result::NeedMore);
    CHECK_FALSE(p.inRequest());
    feed(p, r, "sen");
    CHECK(p.inRequest());
    p.reset();
    CHECK_FALSE(p.inRequest());
}

TEST_CASE("CRLF line endings are tolerated")
{
    PolicyParser p;
    Request r;
    CHECK(feed(p, r, "sender=a@b\r\n\r\n").result == Result::Complete);
    CHECK(r.attribute("sender") == "a@b");
}

TEST_CASE("a repeated attribute keeps its last value")
{
    PolicyParser p;
    Request r;
    feed(p, r, "sender=first\nsender=last\n\n");
    CHECK(r.attribute("sender") == "last");
}

TEST_CASE("garbage, NUL bytes and nameless attributes are protocol errors")
{
    using namespace std::string_literals;
    for (std::string bad : {"garbage\n"s, "sender=a\0b\n"s, "=value\n"s}) {
        CAPTURE(bad);
        PolicyParser p;
        Request r;
        CHECK(feed(p, r, bad).result == Result::Error);
        CHECK_FALSE(p.error().empty());
    }
}

TEST_CASE("a NUL byte fails the request it is in, not a complete one before it")
{
    using namespace std::string_literals;
    PolicyParser p;
    Request r;
    std::string first = "request=smtpd_access_policy\nsender=a@example.com\n\n"s;
    std::string in = first + "request=smtpd_access_policy\nsender=b\0@example.com\n\n"s;
    auto f = feed(p, r, in);
    REQUIRE(f.result == Result::Complete);
    CHECK(f.consumed == first.size());
    CHECK(r.attribute("sender") == "a@example.com");
    r.coreReset(2);
    CHECK(feed(p, r, std::string_view(in).substr(f.consumed)).result == Result::Error);
    CHECK(p.error() == "NUL byte in request");

    // A NUL in the incomplete line after a complete one waits like any other
    // partial line, and fails once that line is complete.
    PolicyParser q;
    Request s;
    std::string partial = "sender=x\n"s + "client_address=1.2\0"s;
    auto g = feed(q, s, partial);
    CHECK(g.result == Result::NeedMore);
    CHECK(g.consumed == 9);
    CHECK(feed(q, s, partial.substr(g.consumed) + ".3.4\n"s).result == Result::Error);
}

TEST_CASE("attributes read back as views of what was sent, in order, across many requests")
{
    PolicyParser p;
    Request r;
    for (int round = 0; round < 3; ++round) {
        std::string in;
        size_t n = round == 1 ? 60 : 5;  // the buffer grows, then is reused
        for (size_t i = 0; i < n; ++i)
            in += "name" + std::to_string(i) + "=value " + std::to_string(i * round) + "\n";
        in += "\n";
        r.coreReset(static_cast<uint64_t>(round));
        REQUIRE(feed(p, r, in).result == Result::Complete);
        REQUIRE(r.attributeCount() == n);
        for (size_t i = 0; i < n; ++i) {
            CHECK(r.attributeAt(i).name == "name" + std::to_string(i));
            CHECK(r.attributeAt(i).value == "value " + std::to_string(i * round));
        }
    }
}

TEST_CASE("an over-long line is refused even before its newline arrives")
{
    ParserLimits limits;
    limits.maxLineLength = 64;
    PolicyParser p(limits);
    Request r;
    CHECK(feed(p, r, "sender=" + std::string(57, 'x') + "\n\n").result == Result::Complete);
    PolicyParser q(limits);
    Request r2;
    auto f = feed(q, r2, "sender=" + std::string(200, 'x'));
    CHECK(f.result == Result::Error);
    CHECK(q.error().find("longer than 64") != std::string::npos);
}

TEST_CASE("too many attributes and too large a request are refused")
{
    ParserLimits limits;
    limits.maxAttributes = 3;
    PolicyParser p(limits);
    Request r;
    CHECK(feed(p, r, "a=1\nb=2\nc=3\nd=4\n\n").result == Result::Error);
    CHECK(p.error().find("more than 3 attributes") != std::string::npos);

    ParserLimits size;
    size.maxRequestSize = 300;
    PolicyParser q(size);
    Request r2;
    std::string in;
    for (int i = 0; i < 30; ++i)
        in += "attr" + std::to_string(i) + "=0123456789\n";
    CHECK(feed(q, r2, in).result == Result::Error);
    CHECK(q.error().find("larger than 300") != std::string::npos);
}

TEST_CASE("an empty line before any attribute is skipped, not answered")
{
    PolicyParser p;
    Request r;
    auto f = feed(p, r, "\n\nsender=a\n\n");
    CHECK(f.result == Result::Complete);
    CHECK(r.attribute("sender") == "a");
    CHECK(r.attributeCount() == 1);
}
