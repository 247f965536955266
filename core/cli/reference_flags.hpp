// reference_flags.hpp - every flag and GEOIPPOLICYD_* variable of the Go
// geoip-policyd, and the YAML key each one overrides.
//
// Precedence: built-in defaults < YAML < GEOIPPOLICYD_* < command-line flag.
// (The Go program lets the variable beat the flag; we follow the usual rule
// and the issue's, and say so in the README.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace geopol::core {

enum class FlagKind : uint8_t {
    String,  ///< one value
    Int,     ///< one value, validated by the module reading it
    Bool,    ///< a flag (also --flag=false); variables use Go's ParseBool
    List,    ///< repeated flag; variable split at spaces (or commas, see below)
    Count,   ///< -v, -vv
};

/// What applying a value means beyond "set section.key".
enum FlagEffect : uint32_t {
    kPlain = 0,
    kEnablesModule = 1u << 0,  ///< giving it enables the module (--use-ldap, --redis-*)
    kSelectsRedis = 1u << 1,   ///< giving it switches the store to redis-store
    kCommaList = 1u << 2,      ///< the variable is comma-separated (LDAP URIs)
    kSpecial = 1u << 3,        ///< handled by name in overrides.cpp
};

struct ReferenceFlag {
    const char *names;  ///< CLI11 spelling: "-p,--server-port"
    const char *env;    ///< without the GEOIPPOLICYD_ prefix; "" if none
    FlagKind kind;
    const char *section;  ///< "server", "log", or a module name
    const char *key;      ///< the YAML key in that section
    uint32_t effects;
    const char *help;
};

const std::vector<ReferenceFlag> &referenceFlags();

/// The long name of a flag ("--server-port"), for messages.
std::string longName(const ReferenceFlag &f);

}  // namespace geopol::core
