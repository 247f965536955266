// test_data.hpp - where the geoip tests find the GeoLite2 databases.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace geopol::geoip::test {

/// The path of `name` in $GEOPOL_DATA_DIR. A missing database fails the test
/// (it is not skipped): a green run must mean the lookups were checked.
inline std::string dataFile(const char *name)
{
    const char *dir = std::getenv("GEOPOL_DATA_DIR");
    REQUIRE_MESSAGE(dir != nullptr,
                    "GEOPOL_DATA_DIR is not set; run the tests with meson test, which sets it");
    std::string path = std::string(dir) + "/" + name;
    REQUIRE_MESSAGE(::access(path.c_str(), R_OK) == 0,
                    path << " is missing: run scripts/setup to download the GeoLite2 databases");
    return path;
}

inline std::string cityDb()
{
    return dataFile("GeoLite2-City.mmdb");
}
inline std::string countryDb()
{
    return dataFile("GeoLite2-Country.mmdb");
}

/// Copies `from` to `to` (replacing it), or fails the test.
inline void copyFile(const std::string &from, const std::string &to)
{
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    bool copied = in.is_open() && out.flush().good();
    REQUIRE_MESSAGE(copied, "cannot copy " << from << " to " << to);
}

}  // namespace geopol::geoip::test
