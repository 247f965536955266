// load_test.cpp - the built limits.so loads the way the core will load it.
#include "tests/support/loaded_module.hpp"

TEST_CASE("limits.so exports a valid descriptor and creates a module")
{
    geopol::test::LoadedModule so(LIMITS_MODULE_PATH);
    so.checkDescriptor("limits");
    auto m = so.create();
    CHECK(m->handlesRequests());
}
