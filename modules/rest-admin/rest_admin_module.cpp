// rest_admin_module.cpp - the module's entry symbol; everything else is in rest_admin.cpp.
#include "geopol/module.hpp"
#include "rest_admin.hpp"

GEOPOL_MODULE("rest-admin", geopol::rest_admin::RestAdminModule)
