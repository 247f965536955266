// mime_test.cpp - encoded words, folding, quoted-printable, dates, UTF-8.
#include "mime.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace geopol::operator_mail;

namespace {

std::vector<std::string> lines(const std::string &s)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find("\r\n", start);
        REQUIRE_MESSAGE(end != std::string::npos, "every line ends in CRLF: " << s);
        out.push_back(s.substr(start, end - start));
        start = end + 2;
    }
    return out;
}

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    FAIL("not an upper-case hex digit: " << c);
    return 0;
}

// RFC 2045 decoding, strict: what a mail reader does with our output.
std::string decodeQuotedPrintable(const std::string &qp)
{
    std::string out;
    for (const std::string &line : lines(qp)) {
        bool soft = !line.empty() && line.back() == '=';
        std::string body = soft ? line.substr(0, line.size() - 1) : line;
        for (size_t i = 0; i < body.size(); ++i) {
            if (body[i] == '=') {
                REQUIRE(i + 2 < body.size());
                out += static_cast<char>(hexValue(body[i + 1]) * 16 + hexValue(body[i + 2]));
                i += 2;
            } else {
                out += body[i];
            }
        }
        if (!soft)
            out += "\n";
    }
    return out;
}

std::string decodeBase64(const std::string &in)
{
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t buf = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=')
            break;
        size_t v = alphabet.find(c);
        REQUIRE(v != std::string::npos);
        buf = buf << 6 | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xFF);
        }
    }
    return out;
}

// "=?UTF-8?B?...?= =?UTF-8?B?...?=" -> the text; checks each word's form.
std::string decodeEncodedWords(const std::string &s)
{
    std::string out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find(' ', start);
        std::string word =
            s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        CHECK(word.size() <= 75);
        REQUIRE(word.rfind("=?UTF-8?B?", 0) == 0);
        REQUIRE(word.substr(word.size() - 2) == "?=");
        std::string decoded = decodeBase64(word.substr(10, word.size() - 12));
        CHECK_MESSAGE(isValidUtf8(decoded), "each word holds whole characters");
        out += decoded;
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("plain ASCII header text stays as it is")
{
    CHECK(encodeHeaderText("[geoip-policyd] An e-mail account was compromised") ==
          "[geoip-policyd] An e-mail account was compromised");
}

TEST_CASE("non-ASCII header text becomes UTF-8 encoded words that decode to the text")
{
    std::string subject = "Konto gesperrt: jürgen@example.com — Überprüfung nötig";
    std::string encoded = encodeHeaderText(subject);
    CHECK(encoded.find("ü") == std::string::npos);
    CHECK(decodeEncodedWords(encoded) == subject);
}

TEST_CASE("long non-ASCII text is split into several words without splitting a character")
{
    std::string subject;
    for (int i = 0; i < 40; ++i)
        subject += "日本語";  // 3 bytes each
    std::string encoded = encodeHeaderText(subject);
    CHECK(encoded.find(' ') != std::string::npos);
    CHECK(decodeEncodedWords(encoded) == subject);
    // RFC 2047: a line with encoded words has at most 76 characters.
    for (const auto &line : lines(foldHeader("Subject", encoded)))
        CHECK(line.size() <= 76);
}

TEST_CASE("header text cannot inject a header line")
{
    std::string value = encodeHeaderText("hi\r\nBcc: victim@example.com");
    CHECK(value.find('\r') == std::string::npos);
    CHECK(value.find('\n') == std::string::npos);
    CHECK(value == "hi  Bcc: victim@example.com");
}

TEST_CASE("text that looks like an encoded word is encoded itself")
{
    std::string encoded = encodeHeaderText("=?UTF-8?B?evil?=");
    CHECK(decodeEncodedWords(encoded) == "=?UTF-8?B?evil?=");
}

TEST_CASE("a word too long to fold is encoded so it can be split")
{
    std::string longWord(120, 'x');
    std::string encoded = encodeHeaderText(longWord);
    CHECK(decodeEncodedWords(encoded) == longWord);
}

TEST_CASE("headers are folded at spaces within 78 characters and unfold to the value")
{
    std::string value;
    for (int i = 0; i < 30; ++i)
        value += (i ? " " : "") + std::string("word") + std::to_string(i);
    std::string folded = foldHeader("Subject", value);
    auto ls = lines(folded);
    CHECK(ls.size() > 1);
    for (const auto &l : ls)
        CHECK(l.size() <= 78);
    std::string unfolded;
    for (size_t i = 0; i < ls.size(); ++i)
        unfolded += ls[i];  // a continuation line starts with its space
    CHECK(unfolded == "Subject: " + value);
}

TEST_CASE("a short header is one line")
{
    CHECK(foldHeader("To", "ops@example.com") == "To: ops@example.com\r\n");
}

TEST_CASE("quoted-printable keeps plain text readable and ends in CRLF")
{
    CHECK(quotedPrintable("Hello,\n\nPostmaster") == "Hello,\r\n\r\nPostmaster\r\n");
    CHECK(quotedPrintable("a\r\nb\n") == "a\r\nb\r\n");
    CHECK(quotedPrintable("") == "\r\n");
}

TEST_CASE("quoted-printable encodes =, non-ASCII and trailing white space")
{
    CHECK(quotedPrintable("sender=<a@b>") == "sender=3D<a@b>\r\n");
    CHECK(quotedPrintable("grüß") == "gr=C3=BC=C3=9F\r\n");
    CHECK(quotedPrintable("end \nend\t") == "end=20\r\nend=09\r\n");
    CHECK(quotedPrintable("a b") == "a b\r\n");
}

TEST_CASE("quoted-printable protects a leading dot and From")
{
    CHECK(quotedPrintable(".\n.hidden\nFrom here\nFromage") ==
          "=2E\r\n=2Ehidden\r\n=46rom here\r\nFromage\r\n");
}

TEST_CASE("quoted-printable lines stay within 76 characters and decode to the text")
{
    std::string text;
    for (int i = 0; i < 50; ++i)
        text += "Zeile " + std::to_string(i) + " mit Umlauten äöü und = Zeichen ";
    text += "\nshort\n" + std::string(200, 'x') + "\n" + std::string(75, 'y') + " \n";
    text += std::string(76, 'z') + "\n" + std::string(77, 'w') + "\n";
    std::string qp = quotedPrintable(text);
    for (const auto &l : lines(qp)) {
        CHECK(l.size() <= 76);
        CHECK((l.empty() || (l.back() != ' ' && l.back() != '\t')));
    }
    CHECK(decodeQuotedPrintable(qp) == text);
}

TEST_CASE("an encoded byte is never split by a soft line break")
{
    for (size_t pad = 70; pad < 78; ++pad) {
        std::string text = std::string(pad, 'a') + "äää=\n";
        std::string qp = quotedPrintable(text);
        for (const auto &l : lines(qp)) {
            CHECK(l.size() <= 76);
            size_t eq = l.rfind('=');
            if (eq != std::string::npos && eq + 1 != l.size())
                CHECK(eq + 2 < l.size());
        }
        CHECK(decodeQuotedPrintable(qp) == text);
    }
}

TEST_CASE("dates are RFC 5322 and RFC 3339 in UTC")
{
    CHECK(rfc5322Date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
    CHECK(rfc5322Date(1714564800) == "Wed, 01 May 2024 12:00:00 +0000");
    CHECK(rfc3339Utc(1714564800) == "2024-05-01T12:00:00Z");
}

TEST_CASE("UTF-8 validation rejects ill-formed input and sanitizing replaces it")
{
    CHECK(isValidUtf8("plain"));
    CHECK(isValidUtf8("ä 日本 🙂"));
    CHECK_FALSE(isValidUtf8("\xC3"));              // truncated
    CHECK_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
    CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(isValidUtf8("\xFF"));
    CHECK(sanitizeUtf8("a\xFF"
                       "b") ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(sanitizeUtf8("ä") == "ä");
}

TEST_CASE("base64 pads correctly")
{
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64("foobar") == "Zm9vYmFy");
}
