// broken-build: the right ABI number, but built against other module headers
// (another digest in the build tag), as a module left over from an older
// build would be.
#include "geopol/module_abi.h"

extern "C" GEOPOL_EXPORT const struct geopol_module_info *geopol_module_entry(void)
{
    static const struct geopol_module_info info = {
        GEOPOL_MODULE_ABI, sizeof(struct geopol_module_info), "broken-build",
        GEOPOL_VERSION "/gcc-0.0.0/c++20/abi-00000000", nullptr};
    return &info;
}
