// module_loader.hpp - finds, checks and dlopens module shared objects.
//
// Modules load from one directory only. Before dlopen the file must be a
// regular file not writable by group or others (Postfix's rule for its
// dynamic maps); after dlopen its descriptor must carry our ABI number,
// struct size, its own name and our build tag. Every refusal is one message
// naming the file, what was expected, what was found and the fix.
// Objects are never dlclose'd (RTLD_NODELETE): a reload creates new
// instances from the already-mapped code.
#pragma once

#include <memory>
#include <string>

#include "geopol/module.hpp"

namespace geopol::core {

class ModuleLoader {
public:
    explicit ModuleLoader(std::string dir) : dir_(std::move(dir)) {}

    const std::string &dir() const { return dir_; }

    /// "<dir>/<name>.so", or "<dir>/<name>/<name>.so" (the build tree's
    /// layout); empty if neither exists.
    std::string findFile(const std::string &name) const;
    bool available(const std::string &name) const { return !findFile(name).empty(); }

    /// A new instance of the module, or nullptr with `error` set.
    std::unique_ptr<Module> create(const std::string &name, std::string &error) const;

private:
    std::string dir_;
};

/// The module directory when none is configured: GEOPOL_MODULE_DIR, else the
/// build tree's when geopold runs from the build tree, else the installed one.
std::string defaultModuleDir();

/// Module names are plain: lower-case letters, digits and dashes.
bool validModuleName(const std::string &name);

}  // namespace geopol::core
