// message_test.cpp - placeholder values and the complete message.
#include "message.hpp"

#include <doctest/doctest.h>

#include <map>

#include "mime.hpp"

using namespace geopol;
using namespace geopol::operator_mail;

namespace {

Notice sampleNotice()
{
    Notice n;
    n.requestId = 42;
    n.time = 1714564800;  // 2024-05-01T12:00:00Z
    n.account = "alice@example.com";
    n.identity = "Alice@Example.com";
    n.clientAddress = "81.2.69.142";
    n.country = "GB";
    n.reason = "countries";
    n.countries = 2;
    n.maxCountries = 1;
    n.ips = 2;
    n.maxIps = 10;
    n.maxHomeCountries = 3;
    n.maxHomeIps = 10;
    return n;
}

Composer sampleComposer(std::string_view body = "{account}\n", std::string_view subject = "")
{
    Composer c;
    std::string error;
    std::vector<Mailbox> list;
    REQUIRE(parseMailboxList("geopol <geopol@mx.example.org>", list, error));
    c.from = list.front();
    REQUIRE(parseMailboxList("ops@example.org, Boss <boss@example.org>", c.to, error));
    REQUIRE(c.subject.parse(
        subject.empty() ? "[geoip-policyd] An e-mail account was compromised" : subject,
        placeholderNames(), error));
    REQUIRE(c.body.parse(body, placeholderNames(), error));
    c.hostname = "mx1";
    return c;
}

// Header name -> value (unfolded), and the body, of a CRLF message.
struct Parsed {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(const std::string &name) const
    {
        for (const auto &[k, v] : headers)
            if (k == name)
                return v;
        FAIL("no header " << name);
        return {};
    }
};

Parsed parseMessage(const std::string &data)
{
    Parsed p;
    size_t end = data.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    std::string head = data.substr(0, end + 2);
    p.body = data.substr(end + 4);
    CHECK(data.find('\n') == data.find("\r\n") + 1);  // CRLF, not bare LF
    size_t start = 0;
    while (start < head.size()) {
        size_t eol = head.find("\r\n", start);
        std::string line = head.substr(start, eol - start);
        CHECK(line.size() <= 78);
        if (line[0] == ' ') {
            p.headers.back().second += line;
        } else {
            size_t colon = line.find(": ");
            REQUIRE(colon != std::string::npos);
            p.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
        }
        start = eol + 2;
    }
    return p;
}

}  // namespace

TEST_CASE("a message has every header, in order, and a quoted-printable body")
{
    Composer c = sampleComposer("the e-mail account sender=<%s> was compromised.\n");
    Message m = c.compose(sampleNotice(), nullptr, 1714564805, "<id.1@mx.example.org>");
    Parsed p = parseMessage(m.data);
    std::vector<std::string> names;
    for (const auto &h : p.headers)
        names.push_back(h.first);
    CHECK(names == std::vector<std::string>{"From", "To", "Subject", "Date", "Message-ID",
                                            "MIME-Version", "Content-Type",
                                            "Content-Transfer-Encoding", "Auto-Submitted"});
    CHECK(p.header("From") == "geopol <geopol@mx.example.org>");
    CHECK(p.header("To") == "ops@example.org, Boss <boss@example.org>");
    CHECK(p.header("Subject") == "[geoip-policyd] An e-mail account was compromised");
    CHECK(p.header("Date") == "Wed, 01 May 2024 12:00:05 +0000");
    CHECK(p.header("Message-ID") == "<id.1@mx.example.org>");
    CHECK(p.header("MIME-Version") == "1.0");
    CHECK(p.header("Content-Type") == "text/plain; charset=UTF-8");
    CHECK(p.header("Content-Transfer-Encoding") == "quoted-printable");
    CHECK(p.header("Auto-Submitted") == "auto-generated");
    CHECK(p.body == "the e-mail account sender=3D<alice@example.com> was compromised.\r\n");
    CHECK(m.messageId == "<id.1@mx.example.org>");
}

TEST_CASE("a subject with placeholders and non-ASCII text is encoded")
{
    Composer c = sampleComposer("x", "Konto {account} gesperrt – Prüfung nötig");
    Parsed p = parseMessage(c.compose(sampleNotice(), nullptr, 0, "<a@b>").data);
    std::string subject = p.header("Subject");
    CHECK(subject.rfind("=?UTF-8?B?", 0) == 0);
    CHECK(subject.find("ü") == std::string::npos);
}

TEST_CASE("a configured charset is kept; otherwise UTF-8 is added")
{
    Composer c = sampleComposer();
    c.contentType = "text/html";
    CHECK(
        parseMessage(c.compose(sampleNotice(), nullptr, 0, "<a@b>").data).header("Content-Type") ==
        "text/html; charset=UTF-8");
    c.contentType = "text/plain; charset=utf-8";
    CHECK(
        parseMessage(c.compose(sampleNotice(), nullptr, 0, "<a@b>").data).header("Content-Type") ==
        "text/plain; charset=utf-8");
}

TEST_CASE("message ids are unique and use the sender's domain")
{
    Composer c = sampleComposer();
    std::string a = c.newMessageId(100), b = c.newMessageId(100);
    CHECK(a != b);
    CHECK(a.rfind("<geopol.100.", 0) == 0);
    CHECK(a.substr(a.size() - 16) == "@mx.example.org>");
}

TEST_CASE("placeholder values come from the store's lists when there are some")
{
    SeenLists lists;
    lists.foreignCountries = {"US", "GB"};
    lists.homeCountries = {"DE"};
    lists.foreignIps = {"8.8.8.8", "81.2.69.142"};
    lists.homeIps = {"217.160.0.1"};
    Values v = placeholderValues(sampleNotice(), &lists, "mx1");
    CHECK(v["countries"] == "US, GB, DE");
    CHECK(v["ips"] == "8.8.8.8, 81.2.69.142, 217.160.0.1");
    CHECK(v["foreign_countries"] == "US, GB");
    CHECK(v["home_ips"] == "217.160.0.1");
    CHECK(v["account"] == "alice@example.com");
    CHECK(v["identity"] == "Alice@Example.com");
    CHECK(v["client_address"] == "81.2.69.142");
    CHECK(v["country"] == "GB");
    CHECK(v["reason"] == "countries");
    CHECK(v["reason_text"] == "seen from more foreign countries than allowed (2 > 1)");
    CHECK(v["block"] == "temporary");
    CHECK(v["countries_count"] == "2");
    CHECK(v["max_countries"] == "1");
    CHECK(v["time"] == "2024-05-01T12:00:00Z");
    CHECK(v["hostname"] == "mx1");
    CHECK(v["request_id"] == "42");
    for (const Placeholder &p : placeholders())
        CHECK_MESSAGE(v.count(std::string(p.name)), "no value for {" << p.name << "}");
}

TEST_CASE("without the store's lists the verdict's or the request's values are used")
{
    Notice n = sampleNotice();
    Values v = placeholderValues(n, nullptr, "mx1");
    CHECK(v["countries"] == "GB");
    CHECK(v["ips"] == "81.2.69.142");
    CHECK(v["foreign_countries"] == "unknown");
    n.seenCountries = {"US", "GB"};
    n.seenIps = {"8.8.8.8", "81.2.69.142"};
    v = placeholderValues(n, nullptr, "mx1");
    CHECK(v["countries"] == "US, GB");
    CHECK(v["ips"] == "8.8.8.8, 81.2.69.142");
    n.country.clear();
    n.seenCountries.clear();
    CHECK(placeholderValues(n, nullptr, "mx1")["country"] == "unknown");
}

TEST_CASE("empty lists read none; wire values that are not UTF-8 are repaired")
{
    SeenLists empty;
    Notice n = sampleNotice();
    n.identity = "bad\xFFname";
    Values v = placeholderValues(n, &empty, "h");
    CHECK(v["countries"] == "none");
    CHECK(v["home_ips"] == "none");
    CHECK(isValidUtf8(v["identity"]));
}

TEST_CASE("each reason has its words")
{
    Notice n = sampleNotice();
    std::map<std::string, std::string> expected = {
        {"ips", "seen from more foreign IP addresses than allowed (2 > 10)"},
        {"home-countries", "seen from more home countries than allowed (0 > 3)"},
        {"home-ips", "seen from more home IP addresses than allowed (0 > 10)"},
        {"trusted-countries", "used from a country outside its trusted countries"},
        {"trusted-ips", "used from an address outside its trusted networks"},
    };
    for (const auto &[reason, text] : expected) {
        n.reason = reason;
        CHECK(placeholderValues(n, nullptr, "h")["reason_text"] == text);
    }
    n.permanent = true;
    CHECK(placeholderValues(n, nullptr, "h")["block"] == "permanent");
}

TEST_CASE("the built-in body carries account, lists, reason and limits")
{
    Composer c = sampleComposer(kDefaultBody);
    SeenLists lists;
    lists.foreignCountries = {"US", "GB"};
    lists.foreignIps = {"8.8.8.8", "81.2.69.142"};
    std::string data = c.compose(sampleNotice(), &lists, 0, "<a@b>").data;
    std::string body = data.substr(data.find("\r\n\r\n") + 4);
    CHECK(body.find("alice@example.com") != std::string::npos);
    CHECK(body.find("US, GB") != std::string::npos);
    CHECK(body.find("8.8.8.8, 81.2.69.142") != std::string::npos);
    CHECK(body.find("(2 > 1)") != std::string::npos);
    CHECK(body.find("2024-05-01T12:00:00Z") != std::string::npos);
}
