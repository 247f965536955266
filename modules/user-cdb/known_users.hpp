// known_users.hpp - the CDB file of known accounts, memory-mapped read-only
// through tinycdb, and the one question asked of it: is this key in it?
//
// A lookup reads the mapping only: no system call, no heap allocation, so it
// runs on the loop thread. The file is checked when it is opened (size and
// the 256 hash-table pointers of its header, a constant amount of work, so a
// large file does not stall a reload); damage beyond the header is caught by
// tinycdb's bounds checks at lookup time and reported as Lookup::Damaged.
//
// Kept apart from the Module wrapper so the unit tests can use it without a
// Host or a configuration.
#pragma once

#include <cdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "geopol/module.hpp"

namespace geopol::user_cdb {

enum class Lookup : uint8_t {
    Found,     ///< the key is in the file (whatever its value, even empty)
    NotFound,  ///< it is not
    Damaged,   ///< the file's index points outside the file: no answer
};

class KnownUsers {
public:
    KnownUsers() = default;
    ~KnownUsers() { close(); }

    // Owns a mapping; a copy would unmap it twice.
    KnownUsers(const KnownUsers &) = delete;
    KnownUsers &operator=(const KnownUsers &) = delete;

    /// Maps the CDB file at `path`, closing any file open before. An error
    /// names the path, what is wrong and how to build a good file. The file
    /// descriptor is closed once mapped: the mapping keeps a file that is
    /// later renamed over (the way to replace it) alive and unchanged.
    Status open(const std::string &path);

    /// Unmaps the file; harmless when nothing is open.
    void close();

    bool isOpen() const { return open_; }
    const std::string &path() const { return path_; }
    /// Size of the mapped file in bytes; 0 when closed.
    uint64_t sizeBytes() const { return open_ ? db_.cdb_fsize : 0; }

    /// Looks `key` up byte for byte. Not thread-safe (tinycdb notes the
    /// position of the found record in the handle): each chain instance, one
    /// per worker, owns its own KnownUsers. NotFound when nothing is open.
    Lookup find(std::string_view key);

private:
    /// Empty if the header is sound, else what is wrong with it.
    std::string checkHeader() const;

    struct cdb db_ = {};
    bool open_ = false;
    std::string path_;
};

}  // namespace geopol::user_cdb
