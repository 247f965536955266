// decision.hpp - the limits decision as pure functions.
//
// Three steps, none of which touches the store, the loop or a logger, so the
// whole rule matrix is unit-testable:
//   effectivePolicy()  global settings + the account's custom entry
//   planRequest()      what this request records, and which trust rule it breaks
//   decide()           the store's counts after recording -> accept or reject
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "custom_settings.hpp"
#include "geopol/facts.hpp"
#include "geopol/store.hpp"
#include "settings.hpp"

namespace geopol::limits {

/// The rules for one account. The pointers refer into Settings or the
/// CustomSettings entry and are valid while those are.
struct Policy {
    Limits limits;
    const std::vector<std::string> *homeCountries = nullptr;     ///< never null
    const std::vector<std::string> *trustedCountries = nullptr;  ///< never null; empty: none
    const std::vector<IpNetwork> *trustedIps = nullptr;          ///< never null; empty: none
    const std::vector<std::string> *trustedIpTexts = nullptr;    ///< trustedIps as written
};

/// `entry` is the account's custom settings entry or nullptr. Overrides apply
/// as in the reference: counts only when > 0, lists only when non-empty, the
/// home block only when its codes are non-empty.
Policy effectivePolicy(const Settings &settings, const CustomEntry *entry);

/// Which trust rules the request breaks; decide() needs nothing else from the plan.
struct TrustOutcome {
    bool untrustedCountry = false;  ///< trusted_countries set, country known and not listed
    bool untrustedIp = false;       ///< trusted_ips set and the client is not inside them
};

/// What one request contributes.
struct Plan {
    std::string ipKey;    ///< counting key; empty: record no IP
    std::string country;  ///< empty: record no country
    bool home = false;    ///< the client's country is a home country
    TrustOutcome trust;
};

Plan planRequest(const Facts &facts, const Policy &policy, const CountingOptions &counting);

/// The counts `current` would have if `plan` were recorded, for a dry run
/// (REST /query) that must not change the store. `current` needs its lists
/// (inspect() returns them): an entry already listed is not counted twice.
AccountState projectRecord(const AccountState &current, const Plan &plan);

enum class Reason : uint8_t {
    None,
    Blocked,
    TrustedCountries,
    Countries,
    HomeCountries,
    TrustedIps,
    Ips,
    HomeIps,
};

/// The verdict's reason string ("countries", "home-ips", ...); "" for None.
const char *reasonName(Reason reason);

struct Decision {
    bool reject = false;
    Reason reason = Reason::None;  ///< the first rule that fired, in Reason's order
};

/// `state` holds the counts after this request was recorded. Rules, each
/// strictly greater-than: blocked; trusted country; foreign countries;
/// home countries; trusted IP; foreign IPs; home IPs.
Decision decide(const AccountState &state, const Limits &limits, const TrustOutcome &trust);

}  // namespace geopol::limits
