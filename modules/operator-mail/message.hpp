// message.hpp - from a blocked account to a complete Internet message.
//
// A Notice is copied out of the blocking request's facts (the request is
// reused as soon as its reply is out). When the mail is composed the store is
// asked for the account's entries (SeenLists); the Composer then fills the
// placeholders and builds headers and a quoted-printable body.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "geopol/facts.hpp"
#include "mailbox.hpp"
#include "message_template.hpp"

namespace geopol::operator_mail {

/// What the request that blocked the account knew.
struct Notice {
    uint64_t requestId = 0;
    std::time_t time = 0;
    std::string account;   ///< the counting key (lower-cased, or the LDAP-resolved account)
    std::string identity;  ///< the sender / SASL login as received
    std::string clientAddress;
    std::string country;  ///< of this request; empty if unknown
    std::string reason;   ///< Verdict::reason
    bool permanent = false;
    uint32_t countries = 0, maxCountries = 0, ips = 0, maxIps = 0;
    uint32_t homeCountries = 0, maxHomeCountries = 0, homeIps = 0, maxHomeIps = 0;
    std::vector<std::string> seenCountries, seenIps;  ///< the verdict's lists; often empty

    static Notice fromFacts(const Facts &facts, uint64_t requestId, std::time_t now);
};

/// The account's entries as the store holds them when the mail is composed.
struct SeenLists {
    std::vector<std::string> foreignCountries, homeCountries, foreignIps, homeIps;
};

struct Placeholder {
    std::string_view name;
    std::string_view meaning;  ///< for the README and error messages
};

/// Every placeholder a template may use, in documentation order.
const std::vector<Placeholder> &placeholders();
std::vector<std::string_view> placeholderNames();

/// The value of every placeholder. Without `lists` (no store, or it failed)
/// {countries} and {ips} fall back to the verdict's lists or this request's
/// country and address, and the foreign/home lists read "unknown".
Values placeholderValues(const Notice &n, const SeenLists *lists, std::string_view hostname);

/// The body used when no template file is configured.
extern const char *const kDefaultBody;

struct Message {
    std::string messageId;  ///< "<...@domain>"
    std::string data;       ///< headers and body, CRLF line ends
};

/// Turns notices into messages; built once per configuration and shared
/// read-only with compositions in flight.
struct Composer {
    Mailbox from;
    std::vector<Mailbox> to;
    std::string contentType = "text/plain";  ///< without charset; "; charset=UTF-8" is added
    MessageTemplate subject;
    MessageTemplate body;
    std::string hostname;

    Message compose(const Notice &n, const SeenLists *lists, std::time_t now) const;
    /// As above with a given Message-ID (tests).
    Message compose(const Notice &n, const SeenLists *lists, std::time_t now,
                    std::string messageId) const;
    /// "<geopol.TIME.RANDOM@domain-of-from>".
    std::string newMessageId(std::time_t now) const;
};

}  // namespace geopol::operator_mail
