// mime.cpp
#include "mime.hpp"

#include <cstdint>
#include <cstdio>

namespace geopol::operator_mail {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], 0 if there is none
// (RFC 3629 table 3-7).
size_t utf8SequenceLength(std::string_view s, size_t i)
{
    auto at = [&](size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
    auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return k < s.size() && at(k) >= lo && at(k) <= hi;
    };
    unsigned c = at(i);
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
        unsigned hi = c == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
        return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
        return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

constexpr const char *kHex = "0123456789ABCDEF";

// Header lines should stay within 78 characters (RFC 5322 2.1.1).
constexpr size_t kFoldWidth = 78;
// A line holding encoded words is at most 76 characters (RFC 2047 2), and the
// first word shares its line with the header name ("Subject: ", 9). 39 bytes
// make 52 base64 characters, plus 12 for "=?UTF-8?B?" and "?=": 64.
constexpr size_t kEncodedWordBytes = 39;

}  // namespace

bool isValidUtf8(std::string_view s)
{
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8SequenceLength(s, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

std::string sanitizeUtf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8SequenceLength(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string base64(std::string_view data)
{
    static const char *kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = static_cast<unsigned char>(data[i]) << 16 |
                     static_cast<unsigned char>(data[i + 1]) << 8 |
                     static_cast<unsigned char>(data[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t rest = data.size() - i;
    if (rest > 0) {
        uint32_t v = static_cast<unsigned char>(data[i]) << 16;
        if (rest == 2)
            v |= static_cast<unsigned char>(data[i + 1]) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string encodeHeaderText(std::string_view text)
{
    std::string clean = sanitizeUtf8(text);
    for (char &c : clean)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            c = ' ';

    bool encode = clean.find("=?") != std::string::npos;
    size_t word = 0;
    for (unsigned char c : clean) {
        if (c >= 0x80)
            encode = true;
        word = c == ' ' ? 0 : word + 1;
        // A word that cannot fit on a folded line even alone.
        if (word > kFoldWidth - 1)
            encode = true;
    }
    if (!encode)
        return clean;

    std::string out;
    for (size_t i = 0; i < clean.size();) {
        // Whole characters only: a decoder must not see half a character.
        size_t end = i;
        while (end < clean.size()) {
            size_t n = utf8SequenceLength(clean, end);  // sanitized: n > 0
            if (end + n - i > kEncodedWordBytes)
                break;
            end += n;
        }
        if (!out.empty())
            out += ' ';
        out += "=?UTF-8?B?";
        out += base64(std::string_view(clean).substr(i, end - i));
        out += "?=";
        i = end;
    }
    return out;
}

std::string foldHeader(std::string_view name, std::string_view value)
{
    std::string out(name);
    out += ':';
    const size_t head = out.size();
    size_t column = out.size();
    size_t start = 0;
    while (true) {
        size_t space = value.find(' ', start);
        std::string_view word = value.substr(
            start, space == std::string_view::npos ? std::string_view::npos : space - start);
        // Fold before this word if it would overflow and the line already has
        // one; the folding whitespace becomes the word's leading space.
        if (column > head && column + 1 + word.size() > kFoldWidth) {
            out += "\r\n";
            column = 0;
        }
        out += ' ';
        out += word;
        column += 1 + word.size();
        if (space == std::string_view::npos)
            break;
        start = space + 1;
    }
    out += "\r\n";
    return out;
}

std::string quotedPrintable(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + text.size() / 8 + 2);

    auto encodeLine = [&out](std::string_view line) {
        size_t column = 0;
        for (size_t i = 0; i < line.size(); ++i) {
            const unsigned char c = static_cast<unsigned char>(line[i]);
            const bool lastOfLine = i + 1 == line.size();
            auto literalAt = [&](size_t col) {
                if (c == ' ' || c == '\t')
                    return !lastOfLine;  // trailing white space would be stripped in transit
                if (c < 33 || c > 126 || c == '=')
                    return false;
                if (col == 0 && c == '.')
                    return false;  // keep SMTP's dot-stuffing out of the picture
                if (col == 0 && line.substr(i, 5) == "From ")
                    return false;  // and mbox's ">From " quoting
                return true;
            };
            bool literal = literalAt(column);
            size_t width = literal ? 1 : 3;
            // A line holds 76 characters; a soft break needs one of them for '='.
            if (column + width > (lastOfLine ? 76 : 75)) {
                out += "=\r\n";
                column = 0;
                literal = literalAt(column);
                width = literal ? 1 : 3;
            }
            if (literal) {
                out += static_cast<char>(c);
            } else {
                out += '=';
                out += kHex[c >> 4];
                out += kHex[c & 15];
            }
            column += width;
        }
    };

    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string_view line =
            text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        encodeLine(line);
        out += "\r\n";
        if (nl == std::string_view::npos)
            break;
        start = nl + 1;
    }
    if (out.empty())
        out = "\r\n";
    return out;
}

std::string rfc5322Date(std::time_t t)
{
    static const char *kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::string rfc3339Utc(std::time_t t)
{
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

}  // namespace geopol::operator_mail
