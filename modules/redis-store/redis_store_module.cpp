// redis_store_module.cpp - the module's entry symbol; the rest is in store_module.cpp.
#include "geopol/module.hpp"
#include "store_module.hpp"

GEOPOL_MODULE("redis-store", geopol::redis_store::RedisStoreModule)
