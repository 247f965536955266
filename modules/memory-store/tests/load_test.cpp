// load_test.cpp - the built memory-store.so loads the way the core will load it.
#include "tests/support/loaded_module.hpp"

TEST_CASE("memory-store.so exports a valid descriptor and creates a module")
{
    geopol::test::LoadedModule so(MEMORY_STORE_MODULE_PATH);
    so.checkDescriptor("memory-store");
    auto m = so.create();
    CHECK(m->provides() == "store");
    CHECK_FALSE(m->handlesRequests());
}
