// broken-no-entry: a shared object that is not a geopol module.
extern "C" __attribute__((visibility("default"))) int some_other_symbol(void)
{
    return 42;
}
