// decision_log.cpp
#include "log/decision_log.hpp"

#include <algorithm>
#include <string>

#include "geopol/ksuid.hpp"
#include "log/logging.hpp"

namespace geopol::core {

namespace {

void appendList(std::string &out, const std::vector<std::string> &items, bool json)
{
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += json ? "," : ",";
        if (json)
            out += '"' + jsonEscape(items[i]) + '"';
        else
            out += items[i];
    }
    out += ']';
}

// go-logfmt's rule: a value with a space, '=', '"' or a control character is
// quoted, with '\\' and '"' escaped.
void appendLogfmtValue(std::string &out, std::string_view value)
{
    bool quote = false;
    for (unsigned char c : value)
        quote |= c <= ' ' || c == '=' || c == '"' || c == 0x7f;
    if (!quote) {
        out += value;
        return;
    }
    out += '"';
    for (unsigned char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < ' ' || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

// The reference's lists: comma-joined, "N/A" when empty.
std::string joinedOrNa(std::vector<std::string>::const_iterator begin,
                       std::vector<std::string>::const_iterator end)
{
    if (begin == end)
        return "N/A";
    std::string out;
    for (auto it = begin; it != end; ++it) {
        if (it != begin)
            out += ',';
        out += *it;
    }
    return out;
}

std::string joinedOrNa(const std::vector<std::string> &items)
{
    return joinedOrNa(items.begin(), items.end());
}

// "REJECT Policy violation..." -> "Policy violation..."; the reference logs
// the reject text, or "ok".
std::string_view referenceAction(const Verdict &v, std::string_view action)
{
    if (!v.reject)
        return "ok";
    auto space = action.find(' ');
    return space == std::string_view::npos ? action : action.substr(space + 1);
}

}  // namespace

std::string referenceDecisionLine(const DecisionLogFormat &format, const Request &req,
                                  std::string_view action, std::string_view guid)
{
    const Facts &f = req.facts;
    const Verdict &v = f.verdict;
    auto foreignCountriesEnd =
        v.seenCountries.begin() + std::min<size_t>(v.seenForeignCountries, v.seenCountries.size());
    auto foreignIpsEnd = v.seenIps.begin() + std::min<size_t>(v.seenForeignIps, v.seenIps.size());
    // In the reference's order; numbers as numbers in JSON.
    struct Field {
        const char *key;
        std::string text;
        bool number;
    };
    const Field fields[] = {
        {"guid", std::string(guid), false},
        {nullptr, f.account, false},  // the identity's name: sender or sasl_username
        {"current_client_ip", f.clientAddress, false},
        {"current_country_code", f.country, false},
        {"foreign_countries_seen", joinedOrNa(v.seenCountries.begin(), foreignCountriesEnd), false},
        {"home_countries_seen", joinedOrNa(foreignCountriesEnd, v.seenCountries.end()), false},
        {"home_countries_defined", joinedOrNa(v.homeCountriesDefined), false},
        {"trusted_countries_defined", joinedOrNa(v.trustedCountriesDefined), false},
        {"total_countries", std::to_string(v.countries + v.homeCountries), true},
        {"allowed_max_foreign_countries", std::to_string(v.maxCountries), true},
        {"allowed_max_home_countries", std::to_string(v.maxHomeCountries), true},
        {"foreign_ips_seen", joinedOrNa(v.seenIps.begin(), foreignIpsEnd), false},
        {"home_ips_seen", joinedOrNa(foreignIpsEnd, v.seenIps.end()), false},
        {"trusted_ips_defined", joinedOrNa(v.trustedIpsDefined), false},
        {"total_ips", std::to_string(v.ips + v.homeIps), true},
        {"allowed_max_foreign_ips", std::to_string(v.maxIps), true},
        {"allowed_max_home_ips", std::to_string(v.maxHomeIps), true},
        {"action", std::string(referenceAction(v, action)), false},
    };
    std::string out;
    out.reserve(512);
    if (format.json)
        out += '{';
    bool first = true;
    for (const Field &field : fields) {
        std::string_view key = field.key ? std::string_view(field.key) : format.identityName;
        if (format.json) {
            out += first ? "\"" : ",\"";
            out += key;
            out += "\":";
            if (field.number)
                out += field.text;
            else
                out += '"' + jsonEscape(field.text) + '"';
        } else {
            if (!first)
                out += ' ';
            out += key;
            out += '=';
            appendLogfmtValue(out, field.text);
        }
        first = false;
    }
    if (format.json)
        out += '}';
    return out;
}

void logDecision(spdlog::logger &log, const DecisionLogFormat &format, const Request &req,
                 std::string_view action)
{
    const Facts &f = req.facts;
    const Verdict &v = f.verdict;
    if (format.reference) {
        // The reference wrote its line only when the policy ran: no line for
        // errors (DEFER) or ignore-networks (geoip logs those itself), nor
        // for a what-if question (REST /query), which decides nothing.
        if (v.evaluated && !f.dryRun)
            log.info("{}", referenceDecisionLine(format, req, action, newKsuid()));
        return;
    }
    const bool json = format.json;
    const std::string_view identityName = format.identityName;
    std::string out;
    out.reserve(256);
    if (json) {
        out += "{\"" + std::string(identityName) + "\":\"" + jsonEscape(f.account) + "\"";
        out += ",\"client_address\":\"" + jsonEscape(f.clientAddress) + "\"";
        if (f.located)
            out += ",\"country\":\"" + f.country + "\"";
        if (v.evaluated) {
            out += ",\"countries\":";
            appendList(out, v.seenCountries, true);
            out += ",\"ip_addresses\":";
            appendList(out, v.seenIps, true);
            out += ",\"countries_count\":" + std::to_string(v.countries) +
                   ",\"max_countries\":" + std::to_string(v.maxCountries) +
                   ",\"ips_count\":" + std::to_string(v.ips) +
                   ",\"max_ips\":" + std::to_string(v.maxIps) +
                   ",\"home_countries_count\":" + std::to_string(v.homeCountries) +
                   ",\"max_home_countries\":" + std::to_string(v.maxHomeCountries) +
                   ",\"home_ips_count\":" + std::to_string(v.homeIps) +
                   ",\"max_home_ips\":" + std::to_string(v.maxHomeIps);
            if (!v.reason.empty())
                out += ",\"reason\":\"" + v.reason + "\"";
            if (v.newlyBlocked)
                out += ",\"newly_blocked\":true";
        }
        if (f.dryRun)
            out += ",\"what_if\":true";
        out += ",\"action\":\"" + jsonEscape(action) +
               "\",\"request_id\":" + std::to_string(req.id()) + "}";
    } else {
        out += std::string(identityName) + "=<" + f.account + ">";
        out += "; client_address=" + (f.clientAddress.empty() ? "-" : f.clientAddress);
        if (f.located)
            out += "; country=" + f.country;
        if (v.evaluated) {
            out += "; countries=";
            appendList(out, v.seenCountries, false);
            out += "; ip_addresses=";
            appendList(out, v.seenIps, false);
            out += "; #countries=" + std::to_string(v.countries) + "/" +
                   std::to_string(v.maxCountries);
            out += "; #ip_addresses=" + std::to_string(v.ips) + "/" + std::to_string(v.maxIps);
            if (v.homeCountries || v.homeIps)
                out += "; #home_countries=" + std::to_string(v.homeCountries) + "/" +
                       std::to_string(v.maxHomeCountries) +
                       "; #home_ip_addresses=" + std::to_string(v.homeIps) + "/" +
                       std::to_string(v.maxHomeIps);
            if (!v.reason.empty())
                out += "; reason=" + v.reason;
            if (v.newlyBlocked)
                out += "; newly_blocked=yes";
        }
        if (f.dryRun)
            out += "; what_if=yes";  // REST /query: nothing was recorded or answered
        out += "; action=" + std::string(action);
    }
    log.info("{}", out);
}

}  // namespace geopol::core
