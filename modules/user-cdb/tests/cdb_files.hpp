// cdb_files.hpp - CDB files for the tests, written with tinycdb's own
// cdb_make API (what the `cdb -c` tool uses), and the byte surgery that
// damages them the ways a disk or a careless copy would.
#pragma once

#include <cdb.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace geopol::user_cdb::test {

using Records = std::vector<std::pair<std::string, std::string>>;

/// Writes `records` (key, value) as a CDB file at `path`.
inline void writeCdb(const std::string &path, const Records &records)
{
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    struct cdb_make maker;
    REQUIRE(cdb_make_start(&maker, fd) == 0);
    for (const auto &[key, value] : records)
        REQUIRE(cdb_make_add(&maker, key.data(), static_cast<unsigned>(key.size()), value.data(),
                             static_cast<unsigned>(value.size())) == 0);
    REQUIRE(cdb_make_finish(&maker) == 0);
    ::close(fd);
}

inline std::string readBytes(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeBytes(const std::string &path, const std::string &bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE(out);
    out << bytes;
}

/// Cuts the file at `path` to its first `size` bytes.
inline void truncateTo(const std::string &path, size_t size)
{
    REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0);
}

/// Points the hash-table slot that holds `key` at a position past the end
/// of the file. The header stays sound (the file opens), but looking `key`
/// up makes cdb_find() report the damage.
inline void breakSlotOf(const std::string &path, const std::string &key)
{
    std::string bytes = readBytes(path);
    auto at = [&](size_t pos) {
        REQUIRE(pos + 4 <= bytes.size());
        return cdb_unpack(reinterpret_cast<const unsigned char *>(bytes.data() + pos));
    };
    unsigned hash = cdb_hash(key.data(), static_cast<unsigned>(key.size()));
    size_t toc = (hash & 255u) * 8;
    uint32_t table = at(toc), slots = at(toc + 4);
    REQUIRE(slots > 0);
    // Linear probing from the key's home slot, as cdb_find() walks it.
    for (uint32_t i = 0; i < slots; ++i) {
        size_t slot = table + ((((hash >> 8) % slots) + i) % slots) * 8;
        if (at(slot) == hash && at(slot + 4) != 0) {
            unsigned char far[4];
            cdb_pack(static_cast<unsigned>(bytes.size() + 100), far);
            bytes.replace(slot + 4, 4, reinterpret_cast<const char *>(far), 4);
            writeBytes(path, bytes);
            return;
        }
    }
    FAIL("no slot of " << key << " found in " << path);
}

}  // namespace geopol::user_cdb::test
