// mime.hpp - the encodings an Internet message needs: RFC 2047 header words,
// header folding, quoted-printable bodies, RFC 5322 dates, UTF-8 checks.
//
// Small and self-contained on purpose: the message is plain text and these
// few rules are all of MIME it needs; each is tested on its own.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace geopol::operator_mail {

/// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool isValidUtf8(std::string_view s);

/// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD. For values
/// that come off the wire (the sender) before they go into a UTF-8 message.
std::string sanitizeUtf8(std::string_view s);

/// Header text, ready to follow "Name: ". Control characters (CR, LF, tab,
/// ...) become spaces so a value can never start a new header. Plain ASCII
/// stays readable; anything else (non-ASCII, "=?", a word too long to fold)
/// becomes RFC 2047 encoded words (UTF-8, base64), each at most 75
/// characters and holding whole characters, separated by spaces.
std::string encodeHeaderText(std::string_view text);

/// "Name: value\r\n", folded at spaces so that lines stay within 78
/// characters where the value allows it (RFC 5322 2.2.3).
std::string foldHeader(std::string_view name, std::string_view value);

/// `text` (any mix of LF and CRLF line ends) as a quoted-printable body with
/// CRLF line ends and lines of at most 76 characters (RFC 2045 6.7). A dot or
/// "From " at the start of a line is encoded too, so neither SMTP
/// dot-stuffing nor mbox quoting can alter the message. Always ends in CRLF.
std::string quotedPrintable(std::string_view text);

/// RFC 5322 date-time in UTC: "Tue, 02 Jan 2024 03:04:05 +0000".
std::string rfc5322Date(std::time_t t);

/// RFC 3339 time in UTC: "2024-01-02T03:04:05Z".
std::string rfc3339Utc(std::time_t t);

/// Base64 (RFC 4648) without line breaks.
std::string base64(std::string_view data);

}  // namespace geopol::operator_mail
