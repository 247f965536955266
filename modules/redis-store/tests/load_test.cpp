// load_test.cpp - the built redis-store.so loads the way the core will load it.
#include <dlfcn.h>
#include <doctest/doctest.h>

#include <cstring>
#include <memory>

#include "geopol/module.hpp"
#include "geopol/module_abi.h"

TEST_CASE("redis-store.so exports a valid descriptor and creates a module")
{
    void *so = dlopen(REDIS_STORE_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    REQUIRE_MESSAGE(so, dlerror());
    auto entry = reinterpret_cast<geopol_module_entry_fn>(dlsym(so, GEOPOL_MODULE_ENTRY_SYMBOL));
    REQUIRE(reinterpret_cast<void *>(entry) != nullptr);
    const geopol_module_info *info = entry();
    CHECK(info->abi == GEOPOL_MODULE_ABI);
    CHECK(info->size == sizeof(geopol_module_info));
    CHECK(std::strcmp(info->name, "redis-store") == 0);
    CHECK(std::strcmp(info->build_tag, GEOPOL_BUILD_TAG) == 0);
    std::unique_ptr<geopol::Module> m(static_cast<geopol::Module *>(info->create()));
    CHECK(m);
    CHECK(m->provides() == "store");
    CHECK_FALSE(m->handlesRequests());
    m.reset();
    dlclose(so);
}
