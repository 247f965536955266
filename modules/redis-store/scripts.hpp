// scripts.hpp - the server-side Lua scripts that make every update atomic.
//
// Each script reads the account's JSON record, applies the change, purges
// expired entries, writes it back with the right key TTL and returns the
// account's state, all inside Redis in one step: concurrent requests (from
// one geopold or many) can never lose each other's entries. Time is Redis'
// own clock (TIME), so hosts whose clocks differ still agree on expiry.
//
// Every script replies with one array (parsed by reply.hpp):
//   [found, foreignIps, foreignCountries, homeIps, homeCountries,
//    block (0 none, 1 temporary, 2 permanent), blockTtlSeconds (-1),
//    ttlSeconds (-1), newly (block only),
//    and, when lists were asked for, four arrays: the foreign IPs, foreign
//    countries, home IPs, home countries]
#pragma once

#include <string>
#include <string_view>

namespace geopol::redis_store {

enum class ScriptId : uint8_t { Record, Block, Inspect };
inline constexpr size_t kScriptCount = 3;

struct Script {
    std::string_view name;
    std::string body;  ///< full text sent with EVAL and SCRIPT LOAD
    std::string sha;   ///< its SHA-1, for EVALSHA
};

/// The three scripts, built once.
const Script &script(ScriptId id);

/// Reply index of the first list (foreign IPs) when lists are returned.
inline constexpr size_t kReplyFields = 9;
inline constexpr size_t kReplyListCount = 4;

}  // namespace geopol::redis_store
