// mailbox.hpp - the operator's addresses: parsing what the admin wrote in
// `from` / `to` ("ops@example.com", "Ops Team <ops@example.com>") into the
// envelope addresses SMTP needs and the header form the message shows.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace geopol::operator_mail {

struct Mailbox {
    std::string displayName;  ///< may be empty; UTF-8
    std::string address;      ///< addr-spec "local@domain", ASCII
};

/// Parses one or more mailboxes separated by commas, each written as
/// `ops@example.com`, `<ops@example.com>`, `Ops Team <ops@example.com>` or
/// `"Ops, Night Shift" <ops@example.com>`. Returns false with `error` set on
/// anything else (an empty list included).
bool parseMailboxList(std::string_view text, std::vector<Mailbox> &out, std::string &error);

/// Whether `address` is an ASCII addr-spec that can go into MAIL FROM / RCPT
/// TO as it is (no quoted local parts, no SMTPUTF8); `why` says what is wrong.
bool isValidAddress(std::string_view address, std::string &why);

/// The mailbox as a header shows it: `addr`, or `Name <addr>` with the name
/// quoted when it has special characters and RFC 2047-encoded when it is not
/// ASCII.
std::string formatMailbox(const Mailbox &m);

/// The domain of an address ("example.com"); empty if it has none.
std::string_view addressDomain(std::string_view address);

}  // namespace geopol::operator_mail
