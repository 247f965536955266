// geo_database.hpp - one mmapped MaxMind DB (GeoLite2/GeoIP2 City or Country)
// and the lookup that turns a client address into geoip's facts.
//
// The mapping (MMDB_s) is shared by every GeoDatabase in the process that
// opens the same unchanged file: with server.workers: N each worker's chain
// has its own geoip instance, and N mappings of GeoLite2-City would count its
// pages N times in the RSS. Only the read-only MMDB_s is shared (libmaxminddb
// lookups on it are thread-safe); the decoded-record cache stays each
// object's own, so lookups take no lock.
//
// Kept apart from the Module wrapper so that unit tests and benchmarks can use
// it without a Host or a configuration.
#pragma once

#include <maxminddb.h>
#include <sys/types.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
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

/// Which file a path named when it was looked at: a file renamed over it has
/// another inode, one rewritten in place (which the README warns against)
/// another size or modification time.
struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    time_t mtimeSec = 0;
    long mtimeNsec = 0;

    auto operator<=>(const FileStamp &) const = default;
};

class GeoDatabase {
public:
    GeoDatabase() = default;
    ~GeoDatabase() { close(); }

    // MMDB_entry_s values point back at the MMDB_s, which mmdb_ keeps alive
    // and in place on the heap. No copies: the record cache is this object's.
    GeoDatabase(const GeoDatabase &) = delete;
    GeoDatabase &operator=(const GeoDatabase &) = delete;

    /// Maps the database at `path` (MMDB_MODE_MMAP), or shares the mapping
    /// another GeoDatabase in this process holds of the same file: same path,
    /// and the same device, inode, size and mtime. A file replaced since
    /// (geoipupdate renames a new one over it) is mapped afresh, and so is
    /// checked afresh. An error names the path, libmaxminddb's reason and what
    /// to do about it. A database that is already open is closed first.
    /// Thread-safe: worker threads start their chains at the same time.
    Status open(const std::string &path);

    /// Lets go of the mapping, which is unmapped when no other GeoDatabase
    /// shares it; harmless when nothing is open.
    void close();

    bool isOpen() const { return mmdb_ != nullptr; }
    const std::string &path() const { return path_; }

    /// The file at `path` now; nullopt when stat() fails.
    static std::optional<FileStamp> stampOf(const std::string &path);
    /// The file that was mapped, as it was when open() looked; nullopt when
    /// closed or when the file changed while it was being mapped.
    const std::optional<FileStamp> &stamp() const { return stamp_; }

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
    ///
    /// Not thread-safe: each chain instance (one per worker) owns its own
    /// GeoDatabase, and the record cache below is that instance's. (The
    /// shared mapping is only read, which libmaxminddb allows from any thread.)
    LookupResult lookup(const IpAddress &addr, Facts &facts) const;

    /// Lookups answered from the decoded-record cache, and all lookups that
    /// found a record: for tests and the benchmark.
    uint64_t cacheHits() const { return cacheHits_; }
    uint64_t recordsFound() const { return recordsFound_; }
    /// Forgets every decoded record (open() starts empty too); for tests.
    void clearCache() const;

    /// Identifies the mapping (the shared MMDB_s); equal for two GeoDatabases
    /// that share one, nullptr when closed. For tests.
    const void *mappingId() const { return mmdb_.get(); }
    /// Mappings open in this process that a later open() could share. For tests.
    static size_t sharedMappings();

private:
    /// What lookup() takes from one data record, decoded once. Many networks
    /// share a record (every range of a city points at the same one), so the
    /// record's offset in the data section is the key. Walking the search
    /// tree is cheap; decoding six values with MMDB_aget_value was two thirds
    /// of a lookup (bench/README.md, "Where the time goes").
    struct DecodedRecord {
        uint32_t offsetPlusOne = 0;  ///< 0: empty slot
        bool registeredCountry = false;
        bool hasLocation = false;
        uint16_t accuracyRadiusKm = 0;
        uint8_t countryLength = 0, continentLength = 0;
        char country[6] = {};  ///< ISO codes are 2 bytes; longer values are not cached
        char continent[6] = {};
        double latitude = 0, longitude = 0;
    };
    /// Direct-mapped by offset: fixed memory (kCacheSlots * 40 bytes), no
    /// allocation, no eviction policy to tune. A collision costs one decode.
    static constexpr size_t kCacheSlots = 8192;

    LookupResult decode(MMDB_entry_s entry, Facts &facts) const;
    void remember(uint32_t offset, const LookupResult &result, const Facts &facts) const;

    std::shared_ptr<const MMDB_s> mmdb_;  ///< closed by its deleter, after the last user
    std::string path_;
    std::optional<FileStamp> stamp_;
    mutable std::unique_ptr<DecodedRecord[]> cache_;
    mutable uint64_t cacheHits_ = 0;
    mutable uint64_t recordsFound_ = 0;
};

}  // namespace geopol::geoip
