// action_text.hpp - what may be answered to Postfix as an action.
//
// A policy reply is "action=<text>\n\n": the text must be one line (after a
// line break Postfix would read the rest as another attribute, or as the end
// of the reply) of valid UTF-8. smtpd checks the UTF-8 itself ("malformed UTF-8
// in policy server response") and then fails the SMTP command with a
// temporary error for everyone instead of our action. The core checks every
// reply a module sets and the configured failure actions; modules check the
// actions they are configured with (ldap-alias's not-found, ...), so a bad
// one is refused when the configuration is read, not when it is answered.
//
// Header-only: the one copy of the rule, shared by the core and the modules
// (which reach the core only through include/). tests/fuzz/action_text
// checks it against an independent reading of RFC 3629.
#pragma once

#include <cstddef>
#include <string_view>

namespace geopol {

/// True if `action` is non-empty, one line of printable text (no C0 control
/// character, no DEL) and well-formed UTF-8 (RFC 3629: no overlong forms, no
/// UTF-16 surrogates, nothing past U+10FFFF).
inline bool validActionText(std::string_view action)
{
    if (action.empty())
        return false;
    size_t i = 0;
    while (i < action.size()) {
        unsigned char c = static_cast<unsigned char>(action[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            ++i;
            continue;
        }
        size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > action.size() || (len == 2 && c < 0xc2))
            return false;
        for (size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(action[i + k]) & 0xc0) != 0x80)
                return false;
        // Well-formed sequences only: no overlong 3- or 4-byte forms, no
        // surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
        unsigned char c1 = static_cast<unsigned char>(action[i + 1]);
        if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
            (c == 0xf4 && c1 > 0x8f) || c > 0xf4)
            return false;
        i += len;
    }
    return true;
}

}  // namespace geopol
