// custom_settings_check.hpp - comparing custom settings entries, shared by the
// targets that produce custom settings (custom_settings, admin_body).
#pragma once

#include <cstdio>
#include <string>

#include "fuzz_check.hpp"
#include "modules/limits/custom_settings.hpp"

namespace geopol::fuzz {

/// Every field that serialise() writes, compared; trustedIps by count only
/// (they are parsed from trustedIpTexts, which are compared).
inline bool sameEntry(const limits::CustomEntry &a, const limits::CustomEntry &b)
{
    bool sameHome = a.home.has_value() == b.home.has_value();
    if (sameHome && a.home)
        sameHome = a.home->codes == b.home->codes && a.home->ips == b.home->ips &&
                   a.home->countries == b.home->countries;
    return sameHome && a.comment == b.comment && a.sender == b.sender && a.ips == b.ips &&
           a.countries == b.countries && a.trustedCountries == b.trustedCountries &&
           a.trustedIpTexts == b.trustedIpTexts && a.trustedIps.size() == b.trustedIps.size();
}

/// What the REST module stores, serves and reloads must come back the same:
/// `s` serialises to a text that parses to the same entries and serialises
/// to the same text.
inline void checkRoundTrip(const limits::CustomSettings &s)
{
    const std::string once = s.serialize();
    auto again = limits::CustomSettings::parse(once, "serialised");
    if (!again.settings)
        std::fprintf(stderr, "re-parse failed: %s\n", again.error.c_str());
    FUZZ_CHECK(again.settings != nullptr);
    const auto &a = s.entries();
    const auto &b = again.settings->entries();
    FUZZ_CHECK(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
        FUZZ_CHECK(sameEntry(a[i], b[i]));
    FUZZ_CHECK(again.settings->serialize() == once);
}

}  // namespace geopol::fuzz
