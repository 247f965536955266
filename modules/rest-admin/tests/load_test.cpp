// load_test.cpp - the built rest-admin.so loads the way the core loads it.
#include "tests/support/loaded_module.hpp"

TEST_CASE("rest-admin.so exports a valid descriptor and creates a module that handles no requests")
{
    geopol::test::LoadedModule so(REST_ADMIN_MODULE_PATH);
    so.checkDescriptor("rest-admin");
    auto m = so.create();
    CHECK_FALSE(m->handlesRequests());
    CHECK(m->needs().empty());
}
