// custom_settings.hpp - per-account limit overrides (the reference's custom.json).
//
// Parsed once (configure(), later the REST module's PUT) into an immutable
// object shared through std::shared_ptr<const CustomSettings>: a change builds
// a new object and swaps the pointer, so readers never see a half-edited set.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "geopol/ip_address.hpp"

namespace geopol::limits {

/// The "home_countries" block of an entry.
struct HomeOverride {
    std::vector<std::string> codes;  ///< upper case; the block applies only when non-empty
    uint32_t ips = 0;                ///< 0: the global max-home-ips
    uint32_t countries = 0;          ///< 0: the global max-home-countries
};

/// One element of "data". Zero and empty mean "use the default", as in the reference.
struct CustomEntry {
    std::string comment;
    std::string sender;  ///< as written; matched case-insensitively
    uint32_t ips = 0;
    uint32_t countries = 0;
    std::vector<std::string> trustedCountries;  ///< upper case
    std::vector<std::string> trustedIpTexts;    ///< as written, for serialisation
    std::vector<IpNetwork> trustedIps;          ///< parsed trustedIpTexts, same order
    std::optional<HomeOverride> home;           ///< present in the source
};

class CustomSettings {
public:
    struct ParseResult {
        std::shared_ptr<const CustomSettings> settings;  ///< null on error
        std::string error;                               ///< names source, entry and field
        std::vector<std::string> warnings;               ///< e.g. duplicate senders
    };

    /// Parses the text of a custom settings file; `source` names it in messages.
    static ParseResult parse(std::string_view text, std::string_view source);
    /// Parses an already decoded document ({"data":[...]}), e.g. a REST body.
    static ParseResult fromJson(const nlohmann::json &doc, std::string_view source);
    /// Reads and parses a file.
    static ParseResult load(const std::string &path);

    /// The first entry whose sender equals `account` ignoring ASCII case, or nullptr.
    const CustomEntry *find(std::string_view account) const;

    const std::vector<CustomEntry> &entries() const { return entries_; }

    /// {"data":[...]} with each entry's keys in the reference's order
    /// (comment, sender, ips, countries, trusted_countries, trusted_ips,
    /// home_countries); empty lists and an absent home block are null, as the
    /// reference prints them. parse() accepts the result.
    nlohmann::ordered_json toJson() const;
    static nlohmann::ordered_json entryToJson(const CustomEntry &entry);
    std::string serialize() const;

private:
    std::vector<CustomEntry> entries_;
    // Lower-cased sender -> index of its first entry: O(1) lookup, first match wins.
    std::unordered_map<std::string, size_t> index_;
};

/// ASCII lower-casing: the core lower-cases accounts the same way.
std::string lowerAscii(std::string_view s);

/// True for two ASCII letters; `out` receives them upper-cased.
bool normaliseCountryCode(std::string_view code, std::string &out);

}  // namespace geopol::limits
