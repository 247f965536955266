// known_users.cpp - opening, checking and reading the CDB file of known accounts.
#include "known_users.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace geopol::user_cdb {

namespace {

// Every CDB file starts with a table of contents of 256 (position, slots)
// pairs of little-endian 32-bit numbers: where each hash table is and how
// many 8-byte slots it has. The records lie between the TOC and the tables.
constexpr uint32_t kTocBytes = 2048;
constexpr unsigned kTables = 256;
constexpr uint32_t kSlotBytes = 8;

std::string buildHint(const std::string &path)
{
    return fmt::format(
        "build it with `cdb -c -m {} < accounts.txt` (tinycdb; one lower-case account per line) "
        "or set the user-cdb module's \"path\" (--cdb-path, GEOIPPOLICYD_CDB_PATH) to an existing "
        "CDB file",
        path);
}

Status openError(const std::string &path, std::string_view what)
{
    return Status::error(
        fmt::format("cannot open the known-users CDB {}: {}; {}", path, what, buildHint(path)));
}

}  // namespace

Status KnownUsers::open(const std::string &path)
{
    close();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return openError(path, std::strerror(errno));

    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0)
        problem = std::strerror(errno);
    else if (!S_ISREG(st.st_mode))
        problem = "not a regular file";
    else if (st.st_size < static_cast<off_t>(kTocBytes))
        problem = fmt::format(
            "the file has {} bytes, fewer than the {}-byte header every CDB file starts with "
            "(not a CDB file, or truncated)",
            st.st_size, kTocBytes);
    // tinycdb would silently map only the first 4 GiB; the format's
    // positions are 32-bit, so a larger file cannot be a sound CDB.
    else if (static_cast<uint64_t>(st.st_size) > std::numeric_limits<uint32_t>::max())
        problem = "the file is larger than 4 GiB, more than the CDB format can address";
    else if (cdb_init(&db_, fd) != 0)
        problem = fmt::format("cannot map it: {}", std::strerror(errno));
    ::close(fd);
    db_.cdb_fd = -1;  // the mapping does not need it
    if (!problem.empty()) {
        db_ = {};
        return openError(path, problem);
    }

    if (std::string damage = checkHeader(); !damage.empty()) {
        cdb_free(&db_);
        db_ = {};
        return openError(path, "not a CDB file, or damaged or truncated (" + damage + ")");
    }
    open_ = true;
    path_ = path;
    return Status::ok();
}

void KnownUsers::close()
{
    if (db_.cdb_mem != nullptr)
        cdb_free(&db_);
    db_ = {};
    open_ = false;
    path_.clear();
}

std::string KnownUsers::checkHeader() const
{
    const unsigned char *toc = db_.cdb_mem;
    const uint32_t size = db_.cdb_fsize;
    // The first table starts where the records end (cdb_init clamps this
    // value; here it is taken as written).
    const uint32_t dataEnd = cdb_unpack(toc);
    if (dataEnd < kTocBytes || dataEnd > size)
        return fmt::format("its records would end at byte {}, outside the {}-byte file", dataEnd,
                           size);
    // The same bounds cdb_find() checks for one table per lookup, for all of
    // them once: a file cut short loses the end of its last tables.
    for (unsigned t = 0; t < kTables; ++t) {
        const uint32_t position = cdb_unpack(toc + t * 8);
        const uint32_t slots = cdb_unpack(toc + t * 8 + 4);
        if (slots == 0)
            continue;
        if (position < dataEnd || position > size || slots > (size - position) / kSlotBytes)
            return fmt::format(
                "hash table {} of {} slots at byte {} lies outside the index (bytes {} to {})", t,
                slots, position, dataEnd, size);
    }
    return {};
}

Lookup KnownUsers::find(std::string_view key)
{
    if (!open_ || key.size() > std::numeric_limits<unsigned>::max())
        return Lookup::NotFound;
    int r = cdb_find(&db_, key.data(), static_cast<unsigned>(key.size()));
    // -1 with errno EPROTO: a table or record position outside the file.
    return r > 0 ? Lookup::Found : r == 0 ? Lookup::NotFound : Lookup::Damaged;
}

}  // namespace geopol::user_cdb
