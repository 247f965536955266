// loaded_module.hpp - a module's .so opened the way the core's loader opens
// it (RTLD_NOW | RTLD_NODELETE: an unresolved symbol fails here, not at the
// first request), for each module's load test. Closed when the test ends.
//
// Included as "tests/support/loaded_module.hpp" (the project root is on every
// target's include path).
#pragma once

#include <dlfcn.h>
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

#include "geopol/module.hpp"
#include "geopol/module_abi.h"

namespace geopol::test {

class LoadedModule {
public:
    explicit LoadedModule(const std::string &path)
    {
        handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        REQUIRE_MESSAGE(handle_ != nullptr, "dlopen " << path << ": " << ::dlerror());
        auto entry =
            reinterpret_cast<geopol_module_entry_fn>(::dlsym(handle_, GEOPOL_MODULE_ENTRY_SYMBOL));
        REQUIRE_MESSAGE(bool(entry), path << " has no " << GEOPOL_MODULE_ENTRY_SYMBOL);
        info = entry();
        REQUIRE(info != nullptr);
    }
    ~LoadedModule()
    {
        if (handle_)
            ::dlclose(handle_);
    }
    LoadedModule(const LoadedModule &) = delete;
    LoadedModule &operator=(const LoadedModule &) = delete;

    /// The checks the core's loader makes: this build's ABI, descriptor size
    /// and build tag, and the module's own name.
    void checkDescriptor(const char *name) const
    {
        CHECK(info->abi == GEOPOL_MODULE_ABI);
        CHECK(info->size == sizeof(geopol_module_info));
        CHECK(std::strcmp(info->name, name) == 0);
        CHECK(std::strcmp(info->build_tag, GEOPOL_BUILD_TAG) == 0);
    }

    std::unique_ptr<Module> create() const
    {
        auto *m = static_cast<Module *>(info->create());
        REQUIRE(m != nullptr);
        return std::unique_ptr<Module>(m);
    }

    const geopol_module_info *info = nullptr;

private:
    void *handle_ = nullptr;
};

}  // namespace geopol::test
