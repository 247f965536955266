// broken-abi: claims a module ABI this geopold does not speak.
#include "geopol/module_abi.h"

extern "C" GEOPOL_EXPORT const struct geopol_module_info *geopol_module_entry(void)
{
    static const struct geopol_module_info info = {GEOPOL_MODULE_ABI + 1,
                                                   sizeof(struct geopol_module_info), "broken-abi",
                                                   GEOPOL_BUILD_TAG, nullptr};
    return &info;
}
