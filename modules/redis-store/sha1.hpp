// sha1.hpp - SHA-1 in hex, for EVALSHA.
//
// Redis names a cached script by the SHA-1 of its text. Knowing the digest
// up front lets the first command of a fresh connection be an EVALSHA like
// every other; NOSCRIPT then falls back to EVAL. Not used for security.
#pragma once

#include <string>
#include <string_view>

namespace geopol::redis_store {

/// 40 lower-case hex digits.
std::string sha1Hex(std::string_view data);

}  // namespace geopol::redis_store
