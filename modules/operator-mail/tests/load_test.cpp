// load_test.cpp - the built operator-mail.so loads the way the core loads it.
#include "tests/support/loaded_module.hpp"

TEST_CASE("operator-mail.so exports a valid descriptor and creates a module")
{
    geopol::test::LoadedModule so(OPERATOR_MAIL_MODULE_PATH);
    so.checkDescriptor("operator-mail");
    auto m = so.create();
    CHECK(m->handlesRequests());
    CHECK(m->provides().empty());
}
