// facts.hpp - what modules learn about a request and share with each other.
//
// One Facts object lives inside each Request and is reused from request to
// request on a connection (clear() keeps the strings' capacity), so filling
// it costs no heap allocation once a connection is warm.
//
// Who writes what:
//   core        identity, account, accountKnown (force-user-known), client*
//   geoip       located, country, continent, hasLocation, latitude, longitude,
//               accuracyRadiusKm
//   ldap-alias  account (replaced by the resolved account), accountKnown
//   user-cdb    accountKnown (the account is listed in the CDB file)
//   limits      verdict
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "geopol/ip_address.hpp"

namespace geopol {

/// What the limits module found; read by the core's decision log line and by
/// later modules (operator-mail).
struct Verdict {
    bool evaluated = false;     ///< the limits module looked at this request
    bool home = false;          ///< the client's country is a home country
    bool reject = false;        ///< over a limit, or blocked
    bool blocked = false;       ///< the account is blocked (before or by this request)
    bool newlyBlocked = false;  ///< this request turned the account blocked
    bool permanent = false;     ///< the block does not expire
    std::string reason;         ///< "countries", "ips", "home-countries", "home-ips",
                                ///< "trusted-countries", "trusted-ips", "blocked"
    uint32_t countries = 0, maxCountries = 0;  ///< foreign
    uint32_t ips = 0, maxIps = 0;              ///< foreign
    uint32_t homeCountries = 0, maxHomeCountries = 0;
    uint32_t homeIps = 0, maxHomeIps = 0;
    // Filled only when someone will read them (an info-level decision line,
    // a REST /query): they cost copies.
    std::vector<std::string> seenCountries;  ///< foreign first, then home
    std::vector<std::string> seenIps;        ///< foreign first, then home
    uint32_t seenForeignCountries = 0;       ///< how many of seenCountries are foreign
    uint32_t seenForeignIps = 0;             ///< how many of seenIps are foreign
    /// The policy that applied: home countries (global or the sender's own),
    /// trusted countries and trusted networks from the custom settings.
    std::vector<std::string> homeCountriesDefined, trustedCountriesDefined, trustedIpsDefined;

    void clear()
    {
        evaluated = home = reject = blocked = newlyBlocked = permanent = false;
        reason.clear();
        countries = maxCountries = ips = maxIps = 0;
        homeCountries = maxHomeCountries = homeIps = maxHomeIps = 0;
        seenCountries.clear();
        seenIps.clear();
        seenForeignCountries = seenForeignIps = 0;
        homeCountriesDefined.clear();
        trustedCountriesDefined.clear();
        trustedIpsDefined.clear();
    }
};

struct Facts {
    // Identity, set by the core from `sender` or `sasl_username`.
    std::string identity;       ///< the attribute's value as received
    std::string account;        ///< the counting key: lower-cased identity, or the
                                ///< account ldap-alias resolved it to
    bool accountKnown = false;  ///< confirmed by a directory, or force-user-known

    // Client, set by the core from `client_address`.
    std::string clientAddress;  ///< as received
    bool clientValid = false;
    IpAddress client;
    AddressClass addressClass = AddressClass::Invalid;

    // Location, set by geoip.
    bool located = false;   ///< the database placed the address in a country
    std::string country;    ///< ISO 3166-1 alpha-2, upper case; empty if unknown
    std::string continent;  ///< continent code ("EU"), empty if unknown
    bool hasLocation = false;
    double latitude = 0, longitude = 0;
    uint16_t accuracyRadiusKm = 0;

    Verdict verdict;

    /// A what-if question (REST /query), not mail: modules must not record,
    /// block or notify anything for it.
    bool dryRun = false;

    void clear()
    {
        dryRun = false;
        identity.clear();
        account.clear();
        accountKnown = false;
        clientAddress.clear();
        clientValid = false;
        client = IpAddress();
        addressClass = AddressClass::Invalid;
        located = false;
        country.clear();
        continent.clear();
        hasLocation = false;
        latitude = longitude = 0;
        accuracyRadiusKm = 0;
        verdict.clear();
    }
};

}  // namespace geopol
