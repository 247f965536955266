// geo_database.hpp - one mmapped MaxMind DB (GeoLite2/GeoIP2 City or Country)
// and the lookup that turns a client address into geoip's facts.
//
// Kept apart from the Module wrapper so that unit tests and benchmarks can use
// it without a Host or a configuration.
#pragma once

#include <maxminddb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "geopol/facts.hpp"
#include "geopol/ip_address.hpp"
#include "geopol/module.hpp"

namespace geopol::geoip {

enum class LookupStatus : uint8_t {
    Located,    ///< a country was found (facts.located is true)
    NoCountry,  ///< the network is in the database, but with neither a country nor a
                ///< registered country (some anycast and continent-only ranges)
    NotFound,   ///< the database has no record for the address
    Error,      ///< libmaxminddb failed; LookupResult::error says why
};

struct LookupResult {
    LookupStatus status = LookupStatus::NotFound;
    /// Static text (MMDB_strerror or our own) when status is Error, else nullptr.
    const char *error = nullptr;
    /// The country came from registered_country because the record has no country.
    bool registeredCountry = false;
};

class GeoDatabase {
public:
    GeoDatabase() = default;
    ~GeoDatabase() { close(); }

    // MMDB_entry_s values point back at mmdb_, so the object must stay put.
    GeoDatabase(const GeoDatabase &) = delete;
    GeoDatabase &operator=(const GeoDatabase &) = delete;

    /// Maps the database at `path` (MMDB_MODE_MMAP). An error names the path,
    /// libmaxminddb's reason and what to do about it. A database that is
    /// already open is closed first.
    Status open(const std::string &path);

    /// Unmaps the database; harmless when nothing is open.
    void close();

    bool isOpen() const { return open_; }
    const std::string &path() const { return path_; }

    /// Metadata: "GeoLite2-City", "GeoIP2-Country", ...; empty when closed.
    std::string_view type() const;
    /// Seconds since the epoch at which the database was built; 0 when closed.
    uint64_t buildEpoch() const;
    /// The build date as YYYY-MM-DD (UTC), for log lines.
    std::string buildDate() const;
    /// 4 or 6; 0 when closed.
    int ipVersion() const;

    /// Looks `addr` up and fills the geoip facts: located, country (upper case;
    /// registered_country when the record has no country), continent and, when
    /// the record has coordinates, hasLocation/latitude/longitude/
    /// accuracyRadiusKm. Resets those facts first, so an unlocated address
    /// never keeps a previous request's country. Assigns into the existing
    /// strings: no heap allocation. Does not classify the address; callers skip
    /// private and reserved ones.
    LookupResult lookup(const IpAddress &addr, Facts &facts) const;

private:
    MMDB_s mmdb_{};
    bool open_ = false;
    std::string path_;
};

}  // namespace geopol::geoip
