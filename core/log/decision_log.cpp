// decision_log.cpp
#include "log/decision_log.hpp"

#include <string>

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

}  // namespace

void logDecision(spdlog::logger &log, bool json, std::string_view identityName, const Request &req,
                 std::string_view action)
{
    const Facts &f = req.facts;
    const Verdict &v = f.verdict;
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
        out += "; action=" + std::string(action);
    }
    log.info("{}", out);
}

}  // namespace geopol::core
