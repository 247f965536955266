// mailbox.cpp
#include "mailbox.hpp"

#include <cstring>

#include "mime.hpp"

namespace geopol::operator_mail {

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool isAtext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

bool isDomainLabelChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// One list element: "addr", "<addr>", "Name <addr>", "\"Quoted\" <addr>".
bool parseOne(std::string_view text, Mailbox &m, std::string &error)
{
    text = trim(text);
    if (text.empty()) {
        error = "empty address";
        return false;
    }
    size_t open = text.rfind('<');
    std::string_view address = text;
    if (open != std::string_view::npos) {
        if (text.back() != '>') {
            error = "\"" + std::string(text) + "\": nothing may follow the address in <...>";
            return false;
        }
        address = text.substr(open + 1, text.size() - open - 2);
        std::string_view name = trim(text.substr(0, open));
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
            for (size_t i = 0; i < name.size(); ++i) {
                if (name[i] == '\\' && i + 1 < name.size())
                    ++i;
                m.displayName += name[i];
            }
        } else {
            m.displayName = std::string(name);
        }
        if (!isValidUtf8(m.displayName)) {
            error = "\"" + std::string(text) + "\": the name is not valid UTF-8";
            return false;
        }
        for (unsigned char c : m.displayName)
            if (c < 0x20 || c == 0x7F) {
                error = "\"" + std::string(text) + "\": the name has a control character";
                return false;
            }
    }
    std::string why;
    if (!isValidAddress(address, why)) {
        error = "\"" + std::string(text) + "\": " + why;
        return false;
    }
    m.address = std::string(address);
    return true;
}

}  // namespace

bool isValidAddress(std::string_view address, std::string &why)
{
    size_t at = address.rfind('@');
    if (address.empty() || at == std::string_view::npos) {
        why = "an address must look like local@domain";
        return false;
    }
    if (address.size() > 254) {
        why = "the address is longer than 254 characters";
        return false;
    }
    std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
    if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.') {
        why =
            "the local part before '@' must have 1 to 64 characters and not start or end "
            "with '.'";
        return false;
    }
    for (char c : local)
        if (!isAtext(c) && c != '.') {
            why = "the local part may hold letters, digits, '.' and !#$%&'*+-/=?^_`{|}~ only";
            return false;
        }
    if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']') {
        for (char c : domain.substr(1, domain.size() - 2))
            if (!(isDomainLabelChar(c) || c == '.' || c == ':')) {
                why = "bad address literal after '@'";
                return false;
            }
        return true;
    }
    if (domain.empty() || domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos) {
        why = "the domain after '@' must be a host name such as example.com";
        return false;
    }
    for (char c : domain)
        if (!isDomainLabelChar(c) && c != '.') {
            why =
                "the domain after '@' may hold letters, digits, '-' and '.' only (write "
                "internationalized domains in their xn-- form)";
            return false;
        }
    return true;
}

bool parseMailboxList(std::string_view text, std::vector<Mailbox> &out, std::string &error)
{
    out.clear();
    if (trim(text).empty()) {
        error = "no address given";
        return false;
    }
    bool quoted = false, angle = false;
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
        char c = i < text.size() ? text[i] : ',';
        if (quoted) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == '"')
            quoted = true;
        else if (c == '<')
            angle = true;
        else if (c == '>')
            angle = false;
        else if (c == ',' && !angle) {
            Mailbox m;
            if (!parseOne(text.substr(start, i - start), m, error))
                return false;
            out.push_back(std::move(m));
            start = i + 1;
        }
    }
    if (quoted || angle) {
        error = "\"" + std::string(text) + "\": unbalanced quotes or <...>";
        return false;
    }
    return true;
}

std::string formatMailbox(const Mailbox &m)
{
    if (m.displayName.empty())
        return m.address;
    bool ascii = true, plain = true;
    for (char c : m.displayName) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u >= 0x80 || u < 0x20 || u == 0x7F)
            ascii = false;
        else if (!isAtext(c) && c != ' ')
            plain = false;
    }
    std::string name;
    if (!ascii) {
        name = encodeHeaderText(m.displayName);
    } else if (plain) {
        name = m.displayName;
    } else {
        name = "\"";
        for (char c : m.displayName) {
            if (c == '"' || c == '\\')
                name += '\\';
            name += c;
        }
        name += '"';
    }
    return name + " <" + m.address + ">";
}

std::string_view addressDomain(std::string_view address)
{
    size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

}  // namespace geopol::operator_mail
