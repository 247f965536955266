// tls_shim_libcrypto.cpp - built as rest-admin-tls-libcrypto.so with the
// SONAME "libcrypto.so"; see tls.hpp. It only has to depend on
// libcrypto.so.3; the reference below keeps the linker from dropping it.
extern "C" {

unsigned long ERR_get_error(void);

__attribute__((visibility("default"))) void *geopol_rest_admin_crypto_anchor(void)
{
    return reinterpret_cast<void *>(&ERR_get_error);
}
}
