// settings.hpp - the limits module's YAML section, read and validated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "custom_settings.hpp"

namespace geopol {
class ConfigSection;
}

namespace geopol::limits {

/// The four thresholds. A count strictly greater than its maximum rejects.
struct Limits {
    uint32_t maxCountries = 3;  ///< foreign
    uint32_t maxIps = 10;       ///< foreign
    uint32_t maxHomeCountries = 3;
    uint32_t maxHomeIps = 10;
};

/// How a client address becomes the IP key that is counted.
struct CountingOptions {
    int ipv6Prefix = 64;           ///< IPv6 clients count per /prefix network
    bool countUnplaceable = true;  ///< private, loopback, ... count as IPs (never as countries)
};

inline constexpr std::string_view kDefaultRejectAction =
    "REJECT Policy violation. Please contact your support";
inline constexpr std::string_view kDefaultNoIdentityAction = "DUNNO";

struct Settings {
    Limits limits;
    std::vector<std::string> homeCountries;  ///< upper case
    CountingOptions counting;
    std::string rejectAction{kDefaultRejectAction};
    std::string noIdentityAction{kDefaultNoIdentityAction};
    std::string customSettingsPath;  ///< "" = none
    /// Parsed from customSettingsPath; never null (an empty set when there is no file).
    std::shared_ptr<const CustomSettings> custom;
    std::vector<std::string> customWarnings;  ///< logged by start(): no logger in configure()
};

/// Reads every key of the section into `out`. Problems are reported through
/// cfg.error(); false when this function found one itself (a getter that
/// rejected a number also records an error, which the core sees).
bool readSettings(ConfigSection &cfg, Settings &out);

}  // namespace geopol::limits
