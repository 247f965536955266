// snapshot.hpp - the memory store's state file: JSON, written atomically.
//
// Format (one account per line, so an admin can grep it):
//   {"format":"geopol-memory-store","version":1,"savedAtMs":1700000000000,"accounts":{
//   "alice@example.com":{"foreignIps":{"8.8.8.8":1700000000000},"foreignCountries":{"US":...},
//                        "homeIps":{},"homeCountries":{},"block":"temporary","blockedAtMs":...},
//   ...}}
// Times are wall-clock milliseconds of the last sighting; "block" is absent,
// "temporary" or "permanent".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "geopol/module.hpp"
#include "memory_store.hpp"

namespace geopol::memory_store {

/// The whole store as snapshot text. Walks the shards locking one at a time,
/// so it may run on a worker thread while the loop keeps recording.
std::string serializeSnapshot(const MemoryStore &store);

struct LoadResult {
    bool exists = false;  ///< false: there was no file (not an error)
    std::vector<AccountRecord> accounts;
    std::string error;  ///< non-empty: unreadable or corrupt; names the file
};

LoadResult parseSnapshot(std::string_view text, std::string_view source);
LoadResult loadSnapshot(const std::string &path);

/// Replaces `path` with `data` so that a crash leaves either the old or the
/// new file, never a torn one: a temp file in the same directory, fsync,
/// rename over the target, fsync of the directory.
Status writeFileAtomically(const std::string &path, std::string_view data);

}  // namespace geopol::memory_store
