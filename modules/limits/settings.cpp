// settings.cpp - reading the limits section.
#include "settings.hpp"

#include <limits>

#include "geopol/config.hpp"

namespace geopol::limits {

namespace {

constexpr int64_t kMaxLimit = std::numeric_limits<int32_t>::max();

// A Postfix action is sent as "action=<text>\n": one non-empty line.
bool validAction(ConfigSection &cfg, std::string_view key, const std::string &action)
{
    if (action.empty()) {
        cfg.error(key, "must not be empty (e.g. \"DUNNO\" or \"REJECT text\")");
        return false;
    }
    if (action.find_first_of("\r\n") != std::string::npos) {
        cfg.error(key, "must be a single line");
        return false;
    }
    return true;
}

}  // namespace

bool readSettings(ConfigSection &cfg, Settings &out)
{
    bool ok = true;
    auto limit = [&](std::string_view key, uint32_t def) {
        return static_cast<uint32_t>(cfg.getInt(key, def, 0, kMaxLimit));
    };
    out.limits.maxCountries = limit("max-countries", 3);
    out.limits.maxIps = limit("max-ips", 10);
    out.limits.maxHomeCountries = limit("max-home-countries", 3);
    out.limits.maxHomeIps = limit("max-home-ips", 10);

    out.homeCountries.clear();
    for (const std::string &c : cfg.getStringList("home-countries")) {
        if (c.empty())  // a double space in GEOIPPOLICYD_HOME_COUNTRIES; the reference kept ""
            continue;
        std::string code;
        if (!normaliseCountryCode(c, code)) {
            cfg.error("home-countries",
                      "\"" + c + "\" is not a two-letter ISO 3166 country code such as \"DE\"");
            ok = false;
            continue;
        }
        out.homeCountries.push_back(std::move(code));
    }

    out.counting.ipv6Prefix = static_cast<int>(cfg.getInt("ipv6-prefix", 64, 1, 128));
    out.counting.countUnplaceable = cfg.getBool("count-unplaceable-ips", true);

    out.rejectAction = cfg.getString("reject-action", kDefaultRejectAction);
    ok = validAction(cfg, "reject-action", out.rejectAction) && ok;
    out.noIdentityAction = cfg.getString("no-identity-action", kDefaultNoIdentityAction);
    ok = validAction(cfg, "no-identity-action", out.noIdentityAction) && ok;

    // Read here, not in start(): a broken file then refuses the configuration
    // and a reload keeps the running chain.
    out.customSettingsPath = cfg.getPath("custom-settings", "");
    out.customWarnings.clear();
    if (out.customSettingsPath.empty()) {
        out.custom = std::make_shared<const CustomSettings>();
    } else {
        auto parsed = CustomSettings::load(out.customSettingsPath);
        if (!parsed.settings) {
            cfg.error("custom-settings", parsed.error);
            out.custom = std::make_shared<const CustomSettings>();
            ok = false;
        } else {
            out.custom = std::move(parsed.settings);
            out.customWarnings = std::move(parsed.warnings);
        }
    }
    return ok;
}

}  // namespace geopol::limits
