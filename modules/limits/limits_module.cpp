// limits_module.cpp - the module's entry symbol; everything else is in limits.cpp.
#include "geopol/module.hpp"
#include "limits.hpp"

GEOPOL_MODULE("limits", geopol::limits::LimitsModule)
