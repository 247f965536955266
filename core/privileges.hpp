// privileges.hpp - giving up root after the listeners are bound.
#pragma once

#include <string>

namespace geopol::core {

/// Switches the process to `user` (and `group`, default: the user's primary
/// group), dropping supplementary groups. Empty user and group: nothing to do.
/// Returns "" on success, else what went wrong and how to fix it.
std::string dropPrivileges(const std::string &user, const std::string &group);

}  // namespace geopol::core
