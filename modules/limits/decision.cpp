// decision.cpp - the limits rules.
#include "decision.hpp"

#include <algorithm>

namespace geopol::limits {

namespace {

const std::vector<std::string> kNoCountries;
const std::vector<IpNetwork> kNoNetworks;
const std::vector<std::string> kNoNetworkTexts;

bool listed(const std::vector<std::string> &codes, std::string_view code)
{
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace

Policy effectivePolicy(const Settings &settings, const CustomEntry *entry)
{
    Policy p;
    p.limits = settings.limits;
    p.homeCountries = &settings.homeCountries;
    p.trustedCountries = &kNoCountries;
    p.trustedIps = &kNoNetworks;
    p.trustedIpTexts = &kNoNetworkTexts;
    if (!entry)
        return p;
    if (entry->ips > 0)
        p.limits.maxIps = entry->ips;
    if (entry->countries > 0)
        p.limits.maxCountries = entry->countries;
    if (!entry->trustedCountries.empty())
        p.trustedCountries = &entry->trustedCountries;
    if (!entry->trustedIps.empty()) {
        p.trustedIps = &entry->trustedIps;
        p.trustedIpTexts = &entry->trustedIpTexts;
    }
    if (entry->home && !entry->home->codes.empty()) {
        p.homeCountries = &entry->home->codes;
        if (entry->home->ips > 0)
            p.limits.maxHomeIps = entry->home->ips;
        if (entry->home->countries > 0)
            p.limits.maxHomeCountries = entry->home->countries;
    }
    return p;
}

Plan planRequest(const Facts &facts, const Policy &policy, const CountingOptions &counting)
{
    Plan plan;
    // Invalid strings ("unknown") are never an IP (the reference counted them);
    // unplaceable addresses count unless the admin says otherwise.
    bool countable = facts.clientValid &&
                     (facts.addressClass == AddressClass::Public ||
                      (counting.countUnplaceable && facts.addressClass != AddressClass::Invalid));
    if (countable)
        plan.ipKey = facts.client.countingKey(counting.ipv6Prefix);
    if (facts.located)
        plan.country = facts.country;

    plan.home = !plan.country.empty() && listed(*policy.homeCountries, plan.country);

    // Trusted countries: an unknown country skips the rule, a listed one
    // passes and is not counted, any other breaks it (and is still recorded,
    // so the admin can see where the account was used from).
    if (!policy.trustedCountries->empty() && !plan.country.empty()) {
        if (listed(*policy.trustedCountries, plan.country))
            plan.country.clear();
        else
            plan.trust.untrustedCountry = true;
    }
    // Trusted IPs: an address that is not provably inside the list breaks it.
    if (!policy.trustedIps->empty()) {
        bool inside = false;
        if (facts.clientValid)
            for (const IpNetwork &net : *policy.trustedIps)
                if (net.contains(facts.client)) {
                    inside = true;
                    break;
                }
        if (inside)
            plan.ipKey.clear();
        else
            plan.trust.untrustedIp = true;
    }
    return plan;
}

AccountState projectRecord(const AccountState &current, const Plan &plan)
{
    AccountState s = current;
    auto add = [](uint32_t &count, std::vector<std::string> &list, const std::string &key) {
        if (key.empty() || std::find(list.begin(), list.end(), key) != list.end())
            return;
        ++count;
        list.push_back(key);
    };
    if (plan.home) {
        add(s.homeIps, s.homeIpList, plan.ipKey);
        add(s.homeCountries, s.homeCountryList, plan.country);
    } else {
        add(s.foreignIps, s.foreignIpList, plan.ipKey);
        add(s.foreignCountries, s.foreignCountryList, plan.country);
    }
    return s;
}

const char *reasonName(Reason reason)
{
    switch (reason) {
        case Reason::None:
            return "";
        case Reason::Blocked:
            return "blocked";
        case Reason::TrustedCountries:
            return "trusted-countries";
        case Reason::Countries:
            return "countries";
        case Reason::HomeCountries:
            return "home-countries";
        case Reason::TrustedIps:
            return "trusted-ips";
        case Reason::Ips:
            return "ips";
        case Reason::HomeIps:
            return "home-ips";
    }
    return "";
}

Decision decide(const AccountState &state, const Limits &limits, const TrustOutcome &trust)
{
    // Every rule looks at the whole record, also when the current address has
    // no country (the reference skipped the country rule then, bug §10.7).
    Reason r = Reason::None;
    if (state.block != BlockState::None)
        r = Reason::Blocked;
    else if (trust.untrustedCountry)
        r = Reason::TrustedCountries;
    else if (state.foreignCountries > limits.maxCountries)
        r = Reason::Countries;
    else if (state.homeCountries > limits.maxHomeCountries)
        r = Reason::HomeCountries;
    else if (trust.untrustedIp)
        r = Reason::TrustedIps;
    else if (state.foreignIps > limits.maxIps)
        r = Reason::Ips;
    else if (state.homeIps > limits.maxHomeIps)
        r = Reason::HomeIps;
    return Decision{r != Reason::None, r};
}

}  // namespace geopol::limits
