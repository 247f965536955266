// message.cpp
#include "message.hpp"

#include <cctype>
#include <cstdio>
#include <random>

#include "mime.hpp"

namespace geopol::operator_mail {

namespace {

std::string joined(const std::vector<std::string> &a, const std::vector<std::string> &b = {})
{
    std::string out;
    for (const auto *list : {&a, &b})
        for (const std::string &s : *list) {
            if (!out.empty())
                out += ", ";
            out += s;
        }
    return out.empty() ? "none" : out;
}

std::string reasonText(const Notice &n)
{
    auto over = [](const char *what, uint32_t count, uint32_t max) {
        return std::string("seen from more ") + what + " than allowed (" + std::to_string(count) +
               " > " + std::to_string(max) + ")";
    };
    if (n.reason == "countries")
        return over("foreign countries", n.countries, n.maxCountries);
    if (n.reason == "ips")
        return over("foreign IP addresses", n.ips, n.maxIps);
    if (n.reason == "home-countries")
        return over("home countries", n.homeCountries, n.maxHomeCountries);
    if (n.reason == "home-ips")
        return over("home IP addresses", n.homeIps, n.maxHomeIps);
    if (n.reason == "trusted-countries")
        return "used from a country outside its trusted countries";
    if (n.reason == "trusted-ips")
        return "used from an address outside its trusted networks";
    if (n.reason == "blocked")
        return "already blocked";
    return n.reason.empty() ? "over its limits" : n.reason;
}

bool hasCharset(std::string_view contentType)
{
    std::string lower;
    for (char c : contentType)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower.find("charset=") != std::string::npos;
}

const std::vector<Placeholder> kPlaceholders = {
    {"account",
     "the blocked account (lower-cased sender or login, or the account ldap-alias "
     "resolved it to); the reference's %s"},
    {"identity", "the sender or SASL login as the blocking request carried it"},
    {"client_address", "the client address of the blocking request"},
    {"country", "its country code, \"unknown\" if GeoIP could not place it"},
    {"reason",
     "the rule that fired: countries, ips, home-countries, home-ips, "
     "trusted-countries, trusted-ips"},
    {"reason_text", "the same in words, with the count and the limit"},
    {"block", "temporary or permanent"},
    {"countries", "every country the account was seen from (foreign and home), comma-separated"},
    {"ips", "every IP address (IPv6: network) the account was seen from, comma-separated"},
    {"foreign_countries", "the foreign countries only"},
    {"foreign_ips", "the foreign IP addresses only"},
    {"home_countries", "the home countries only"},
    {"home_ips", "the home IP addresses only"},
    {"countries_count", "number of foreign countries"},
    {"max_countries", "foreign countries allowed"},
    {"ips_count", "number of foreign IP addresses"},
    {"max_ips", "foreign IP addresses allowed"},
    {"home_countries_count", "number of home countries"},
    {"max_home_countries", "home countries allowed"},
    {"home_ips_count", "number of home IP addresses"},
    {"max_home_ips", "home IP addresses allowed"},
    {"time", "when the account was blocked, RFC 3339 UTC (2024-05-01T12:00:00Z)"},
    {"hostname", "the host geopold runs on"},
    {"request_id", "the blocking request's id, as in geopold's log"},
};

}  // namespace

const char *const kDefaultBody =
    "Hello,\n"
    "\n"
    "geopol has blocked the e-mail account {account}: it was {reason_text}.\n"
    "Mail submitted with this account is rejected until the block is lifted.\n"
    "Please check whether the account was compromised.\n"
    "\n"
    "Account:           {account}\n"
    "Sender or login:   {identity}\n"
    "Blocked at:        {time}\n"
    "Block:             {block}\n"
    "Reason:            {reason}\n"
    "Last client:       {client_address} (country {country})\n"
    "Countries seen:    {countries}\n"
    "IP addresses seen: {ips}\n"
    "Foreign countries: {countries_count} (allowed {max_countries})\n"
    "Foreign IPs:       {ips_count} (allowed {max_ips})\n"
    "Home countries:    {home_countries_count} (allowed {max_home_countries})\n"
    "Home IPs:          {home_ips_count} (allowed {max_home_ips})\n"
    "\n"
    "-- \n"
    "geopold on {hostname}, request {request_id}\n";

Notice Notice::fromFacts(const Facts &facts, uint64_t requestId, std::time_t now)
{
    const Verdict &v = facts.verdict;
    Notice n;
    n.requestId = requestId;
    n.time = now;
    n.account = facts.account;
    n.identity = facts.identity;
    n.clientAddress = facts.clientAddress;
    n.country = facts.country;
    n.reason = v.reason;
    n.permanent = v.permanent;
    n.countries = v.countries;
    n.maxCountries = v.maxCountries;
    n.ips = v.ips;
    n.maxIps = v.maxIps;
    n.homeCountries = v.homeCountries;
    n.maxHomeCountries = v.maxHomeCountries;
    n.homeIps = v.homeIps;
    n.maxHomeIps = v.maxHomeIps;
    n.seenCountries = v.seenCountries;
    n.seenIps = v.seenIps;
    return n;
}

const std::vector<Placeholder> &placeholders()
{
    return kPlaceholders;
}

std::vector<std::string_view> placeholderNames()
{
    std::vector<std::string_view> names;
    for (const Placeholder &p : kPlaceholders)
        names.push_back(p.name);
    return names;
}

Values placeholderValues(const Notice &n, const SeenLists *lists, std::string_view hostname)
{
    // Wire values may be anything; the message is UTF-8.
    Values v;
    v["account"] = sanitizeUtf8(n.account);
    v["identity"] = sanitizeUtf8(n.identity);
    v["client_address"] = sanitizeUtf8(n.clientAddress);
    v["country"] = n.country.empty() ? "unknown" : n.country;
    v["reason"] = n.reason;
    v["reason_text"] = reasonText(n);
    v["block"] = n.permanent ? "permanent" : "temporary";
    if (lists) {
        v["countries"] = joined(lists->foreignCountries, lists->homeCountries);
        v["ips"] = joined(lists->foreignIps, lists->homeIps);
        v["foreign_countries"] = joined(lists->foreignCountries);
        v["foreign_ips"] = joined(lists->foreignIps);
        v["home_countries"] = joined(lists->homeCountries);
        v["home_ips"] = joined(lists->homeIps);
    } else {
        v["countries"] = !n.seenCountries.empty() ? joined(n.seenCountries)
                         : n.country.empty()      ? "unknown"
                                                  : n.country;
        v["ips"] = !n.seenIps.empty() ? joined(n.seenIps) : sanitizeUtf8(n.clientAddress);
        v["foreign_countries"] = v["foreign_ips"] = v["home_countries"] = v["home_ips"] = "unknown";
    }
    v["countries_count"] = std::to_string(n.countries);
    v["max_countries"] = std::to_string(n.maxCountries);
    v["ips_count"] = std::to_string(n.ips);
    v["max_ips"] = std::to_string(n.maxIps);
    v["home_countries_count"] = std::to_string(n.homeCountries);
    v["max_home_countries"] = std::to_string(n.maxHomeCountries);
    v["home_ips_count"] = std::to_string(n.homeIps);
    v["max_home_ips"] = std::to_string(n.maxHomeIps);
    v["time"] = rfc3339Utc(n.time);
    v["hostname"] = std::string(hostname);
    v["request_id"] = std::to_string(n.requestId);
    return v;
}

std::string Composer::newMessageId(std::time_t now) const
{
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char random[17];
    std::snprintf(random, sizeof random, "%016llx", static_cast<unsigned long long>(rng()));
    std::string_view domain = addressDomain(from.address);
    if (domain.empty())
        domain = hostname.empty() ? std::string_view("localhost") : std::string_view(hostname);
    return "<geopol." + std::to_string(static_cast<long long>(now)) + "." + random + "@" +
           std::string(domain) + ">";
}

Message Composer::compose(const Notice &n, const SeenLists *lists, std::time_t now) const
{
    return compose(n, lists, now, newMessageId(now));
}

Message Composer::compose(const Notice &n, const SeenLists *lists, std::time_t now,
                          std::string messageId) const
{
    Values values = placeholderValues(n, lists, hostname);

    std::string toList;
    for (const Mailbox &m : to) {
        if (!toList.empty())
            toList += ", ";
        toList += formatMailbox(m);
    }
    std::string type = contentType;
    if (!hasCharset(type))
        type += "; charset=UTF-8";

    Message msg;
    msg.messageId = std::move(messageId);
    std::string &d = msg.data;
    d += foldHeader("From", formatMailbox(from));
    d += foldHeader("To", toList);
    d += foldHeader("Subject", encodeHeaderText(subject.expand(values)));
    d += foldHeader("Date", rfc5322Date(now));
    d += foldHeader("Message-ID", msg.messageId);
    d += "MIME-Version: 1.0\r\n";
    d += foldHeader("Content-Type", type);
    d += "Content-Transfer-Encoding: quoted-printable\r\n";
    // RFC 3834: auto-responders must not answer it.
    d += "Auto-Submitted: auto-generated\r\n";
    d += "\r\n";
    d += quotedPrintable(body.expand(values));
    return msg;
}

}  // namespace geopol::operator_mail
