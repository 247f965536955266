// geo_database.cpp - see geo_database.hpp.
#include "geo_database.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>

namespace geopol::geoip {

namespace {

// Paths into a GeoIP2/GeoLite2 record. City and Country databases share
// them; a Country database simply has no "location".
const char *const kCountryPath[] = {"country", "iso_code", nullptr};
const char *const kRegisteredCountryPath[] = {"registered_country", "iso_code", nullptr};
const char *const kContinentPath[] = {"continent", "code", nullptr};
const char *const kLatitudePath[] = {"location", "latitude", nullptr};
const char *const kLongitudePath[] = {"location", "longitude", nullptr};
const char *const kAccuracyPath[] = {"location", "accuracy_radius", nullptr};

// MMDB_aget_value(), with a missing key reported as success without data:
// libmaxminddb (1.7) calls a missing key "lookup path does not match data",
// which is no sign of a damaged file. (It takes a non-const entry although it
// only reads it, hence the copy.)
int getValue(MMDB_entry_s entry, const char *const *path, MMDB_entry_data_s &data)
{
    int status = MMDB_aget_value(&entry, &data, path);
    if (status != MMDB_SUCCESS)
        data.has_data = false;
    return status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ? MMDB_SUCCESS : status;
}

/// Assigns the string at `path`, if the record has one, to `out`.
int readString(MMDB_entry_s entry, const char *const *path, std::string &out)
{
    MMDB_entry_data_s data;
    int status = getValue(entry, path, data);
    if (data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING)
        out.assign(data.utf8_string, data.data_size);
    return status;
}

bool readDouble(MMDB_entry_s entry, const char *const *path, double &out)
{
    MMDB_entry_data_s data;
    getValue(entry, path, data);
    if (!data.has_data || data.type != MMDB_DATA_TYPE_DOUBLE)
        return false;
    out = data.double_value;
    return true;
}

void upperAscii(std::string &s)
{
    // MaxMind's codes are upper case already; other vendors' need not be, and
    // the limits module compares codes byte for byte.
    for (char &c : s)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
}

std::string openFix(int status)
{
    switch (status) {
        case MMDB_FILE_OPEN_ERROR:
            return "download GeoLite2-City.mmdb (see scripts/setup) or set the geoip module's "
                   "\"database\" key to an existing City or Country .mmdb file";
        case MMDB_OUT_OF_MEMORY_ERROR:
            return "the process is out of memory or address space";
        default:
            return "the file is not a MaxMind DB (.mmdb) file or is damaged; download "
                   "GeoLite2-City.mmdb again (see scripts/setup)";
    }
}

// Which file a mapping is of: the path it was opened by, and the file that
// path named then.
struct MappingKey {
    std::string path;
    FileStamp file;

    auto operator<=>(const MappingKey &) const = default;
};

/// The key of the file at `path` now; nullopt when stat() fails (MMDB_open
/// then fails too, and says why).
std::optional<MappingKey> identify(const std::string &path)
{
    std::optional<FileStamp> stamp = GeoDatabase::stampOf(path);
    if (!stamp)
        return std::nullopt;
    return MappingKey{path, *stamp};
}

/// The process's open mappings. Weak: a mapping is closed when its last
/// GeoDatabase lets go, not when the registry does; expired entries are
/// dropped by the next open(). Lives as long as the process (the module is
/// loaded with RTLD_NODELETE), and the deleter never touches it.
struct Registry {
    std::mutex mutex;
    std::map<MappingKey, std::weak_ptr<const MMDB_s>> mappings;
};

Registry &registry()
{
    static Registry instance;
    return instance;
}

void closeMapping(MMDB_s *mmdb)
{
    MMDB_close(mmdb);
    delete mmdb;
}

}  // namespace

Status GeoDatabase::open(const std::string &path)
{
    close();
    // Allocated first, so that running out of memory leaves nothing half
    // open (value-initialised: all slots empty).
    auto cache = std::make_unique<DecodedRecord[]>(kCacheSlots);

    Registry &reg = registry();
    // Held across MMDB_open too: workers start their chains together, and
    // the later ones should find the first one's mapping rather than each
    // map the file and race to register it. Opening reads only the metadata.
    std::lock_guard<std::mutex> lock(reg.mutex);
    for (auto it = reg.mappings.begin(); it != reg.mappings.end();)
        it = it->second.expired() ? reg.mappings.erase(it) : std::next(it);

    std::optional<MappingKey> key = identify(path);
    if (key) {
        auto found = reg.mappings.find(*key);
        if (found != reg.mappings.end())
            mmdb_ = found->second.lock();
    }

    if (!mmdb_) {
        auto fresh = std::make_unique<MMDB_s>();
        errno = 0;
        int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, fresh.get());
        int err = errno;
        if (status != MMDB_SUCCESS) {
            // errno only means something when libmaxminddb failed in open/fstat/mmap.
            std::string reason = MMDB_strerror(status);
            if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && err != 0)
                reason += fmt::format(" ({})", std::strerror(err));
            return Status::error(fmt::format("cannot open GeoIP database {}: {}; {}", path, reason,
                                             openFix(status)));
        }
        // Should the constructor throw, it calls closeMapping itself.
        mmdb_ = std::shared_ptr<const MMDB_s>(fresh.release(), closeMapping);
        // Shared only if the file did not change while it was being mapped:
        // otherwise the key might name a file other than the one mapped.
        if (key && identify(path) == key)
            reg.mappings[*key] = mmdb_;
    }

    path_ = path;
    // Unknown if the file changed while it was mapped: a later check then
    // sees a difference and maps it again, which is what is wanted.
    stamp_.reset();
    if (key && identify(path) == key)
        stamp_ = key->file;
    cache_ = std::move(cache);
    return Status::ok();
}

std::optional<FileStamp> GeoDatabase::stampOf(const std::string &path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

void GeoDatabase::close()
{
    if (!mmdb_)
        return;
    mmdb_.reset();  // unmapped here if no other GeoDatabase shares it
    stamp_.reset();
    cache_.reset();
}

size_t GeoDatabase::sharedMappings()
{
    Registry &reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    return static_cast<size_t>(
        std::count_if(reg.mappings.begin(), reg.mappings.end(),
                      [](const auto &entry) { return !entry.second.expired(); }));
}

std::string_view GeoDatabase::type() const
{
    if (!mmdb_ || mmdb_->metadata.database_type == nullptr)
        return {};
    return mmdb_->metadata.database_type;
}

uint64_t GeoDatabase::buildEpoch() const
{
    return mmdb_ ? mmdb_->metadata.build_epoch : 0;
}

std::string GeoDatabase::buildDate() const
{
    std::time_t t = static_cast<std::time_t>(buildEpoch());
    std::tm tm{};
    char buf[16];
    if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0)
        return "?";
    return buf;
}

int GeoDatabase::ipVersion() const
{
    return mmdb_ ? mmdb_->metadata.ip_version : 0;
}

LookupResult GeoDatabase::lookup(const IpAddress &addr, Facts &facts) const
{
    facts.located = false;
    facts.country.clear();
    facts.continent.clear();
    facts.hasLocation = false;
    facts.latitude = facts.longitude = 0;
    facts.accuracyRadiusKm = 0;

    LookupResult result;
    if (!mmdb_) {
        result.status = LookupStatus::Error;
        result.error = "no GeoIP database is open";
        return result;
    }

    // IpAddress keeps IPv4 v4-mapped; hand libmaxminddb a real AF_INET address
    // so that it walks the database's IPv4 subtree (and works on IPv4-only
    // databases).
    sockaddr_in sin{};
    sockaddr_in6 sin6{};
    const sockaddr *sa;
    if (addr.isV4()) {
        sin.sin_family = AF_INET;
        std::memcpy(&sin.sin_addr, addr.v4(), 4);
        sa = reinterpret_cast<const sockaddr *>(&sin);
    } else {
        sin6.sin6_family = AF_INET6;
        std::memcpy(&sin6.sin6_addr, addr.bytes().data(), 16);
        sa = reinterpret_cast<const sockaddr *>(&sin6);
    }

    int mmdbError = MMDB_SUCCESS;
    MMDB_lookup_result_s found = MMDB_lookup_sockaddr(mmdb_.get(), sa, &mmdbError);
    if (mmdbError != MMDB_SUCCESS) {
        result.status = LookupStatus::Error;
        result.error = MMDB_strerror(mmdbError);
        return result;
    }
    if (!found.found_entry)
        return result;  // NotFound
    ++recordsFound_;

    uint32_t offset = found.entry.offset;
    const DecodedRecord &slot = cache_[offset % kCacheSlots];
    if (slot.offsetPlusOne == offset + 1) {
        ++cacheHits_;
        facts.country.assign(slot.country, slot.countryLength);
        facts.continent.assign(slot.continent, slot.continentLength);
        facts.hasLocation = slot.hasLocation;
        facts.latitude = slot.latitude;
        facts.longitude = slot.longitude;
        facts.accuracyRadiusKm = slot.accuracyRadiusKm;
        facts.located = !facts.country.empty();
        result.registeredCountry = slot.registeredCountry;
        result.status = facts.located ? LookupStatus::Located : LookupStatus::NoCountry;
        return result;
    }
    result = decode(found.entry, facts);
    if (result.status != LookupStatus::Error)
        remember(offset, result, facts);
    return result;
}

LookupResult GeoDatabase::decode(MMDB_entry_s entry, Facts &facts) const
{
    LookupResult result;
    // The first read tells a damaged data section from a missing key; the
    // later ones are optional and simply stay unset when they fail.
    if (int status = readString(entry, kCountryPath, facts.country); status != MMDB_SUCCESS) {
        result.status = LookupStatus::Error;
        result.error = MMDB_strerror(status);
        return result;
    }
    if (facts.country.empty()) {
        // Anycast and some satellite/ISP ranges carry only the country the
        // network is registered in; that still beats leaving them unplaced.
        readString(entry, kRegisteredCountryPath, facts.country);
        result.registeredCountry = !facts.country.empty();
    }
    upperAscii(facts.country);
    readString(entry, kContinentPath, facts.continent);

    double latitude, longitude;
    if (readDouble(entry, kLatitudePath, latitude) &&
        readDouble(entry, kLongitudePath, longitude)) {
        facts.hasLocation = true;
        facts.latitude = latitude;
        facts.longitude = longitude;
        MMDB_entry_data_s radius;
        getValue(entry, kAccuracyPath, radius);
        if (radius.has_data && radius.type == MMDB_DATA_TYPE_UINT16)
            facts.accuracyRadiusKm = radius.uint16;
    }

    facts.located = !facts.country.empty();
    result.status = facts.located ? LookupStatus::Located : LookupStatus::NoCountry;
    return result;
}

void GeoDatabase::clearCache() const
{
    if (cache_)
        std::fill_n(cache_.get(), kCacheSlots, DecodedRecord{});
}

void GeoDatabase::remember(uint32_t offset, const LookupResult &result, const Facts &facts) const
{
    DecodedRecord &slot = cache_[offset % kCacheSlots];
    if (facts.country.size() > sizeof slot.country ||
        facts.continent.size() > sizeof slot.continent || offset == UINT32_MAX) {
        slot.offsetPlusOne = 0;  // not a shape we cache: decode it every time
        return;
    }
    slot.offsetPlusOne = offset + 1;
    slot.registeredCountry = result.registeredCountry;
    slot.hasLocation = facts.hasLocation;
    slot.accuracyRadiusKm = facts.accuracyRadiusKm;
    slot.countryLength = static_cast<uint8_t>(facts.country.size());
    slot.continentLength = static_cast<uint8_t>(facts.continent.size());
    std::memcpy(slot.country, facts.country.data(), facts.country.size());
    std::memcpy(slot.continent, facts.continent.data(), facts.continent.size());
    slot.latitude = facts.latitude;
    slot.longitude = facts.longitude;
}

}  // namespace geopol::geoip
