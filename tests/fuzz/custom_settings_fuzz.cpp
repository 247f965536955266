// Fuzz target: the per-account custom settings JSON (modules/limits).
//
// Whatever parses must serialise to a document that parses to the same
// settings and serialises to the same text (the REST module stores and
// serves it), and lookups must agree with the entries.
#include <cstdint>
#include <string>
#include <string_view>

#include "custom_settings_check.hpp"
#include "fuzz_check.hpp"
#include "modules/limits/custom_settings.hpp"

using geopol::limits::CustomEntry;
using geopol::limits::CustomSettings;
using geopol::limits::lowerAscii;

using geopol::fuzz::sameEntry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text(reinterpret_cast<const char *>(data), size);
    auto first = CustomSettings::parse(text, "custom.json");
    if (!first.settings) {
        FUZZ_CHECK(!first.error.empty());
        return 0;
    }
    FUZZ_CHECK(first.error.empty());
    const CustomSettings &s = *first.settings;

    for (const auto &e : s.entries()) {
        FUZZ_CHECK(!e.sender.empty());
        FUZZ_CHECK(e.trustedIps.size() == e.trustedIpTexts.size());
        for (size_t i = 0; i < e.trustedIps.size(); ++i)
            FUZZ_CHECK(geopol::IpNetwork::parse(e.trustedIpTexts[i]).has_value());
        // First match wins, whatever the case of the lookup.
        const CustomEntry *found = s.find(e.sender);
        FUZZ_CHECK(found != nullptr);
        FUZZ_CHECK(lowerAscii(found->sender) == lowerAscii(e.sender));
        FUZZ_CHECK(found <= &e);
        FUZZ_CHECK(s.find(lowerAscii(e.sender)) == found);
    }
    s.find("");
    s.find("christian@roessner.email");
    s.find(text.substr(0, 64));

    const std::string once = s.serialize();
    auto second = CustomSettings::parse(once, "serialised");
    if (!second.settings)
        std::fprintf(stderr, "re-parse failed: %s\n", second.error.c_str());
    FUZZ_CHECK(second.settings != nullptr);
    FUZZ_CHECK(second.warnings.size() == first.warnings.size());
    const auto &a = s.entries();
    const auto &b = second.settings->entries();
    FUZZ_CHECK(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
        FUZZ_CHECK(sameEntry(a[i], b[i]));
    FUZZ_CHECK(second.settings->serialize() == once);
    return 0;
}
