// settings_file.hpp - writing the custom settings file so that a crash or a
// full disk leaves the old file or the new one, never a torn one.
#pragma once

#include <string>
#include <string_view>

#include "geopol/module.hpp"

namespace geopol::limits {

/// A temp file in the same directory, fsync, rename over `path`, fsync of the
/// directory. Keeps the mode of an existing file (new files: 0640). Blocks for
/// the fsyncs: a few milliseconds on a local disk, and only on admin changes.
Status writeFileAtomically(const std::string &path, std::string_view data);

}  // namespace geopol::limits
