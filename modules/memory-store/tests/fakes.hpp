// fakes.hpp - the memory-store unit tests use the modules' common stand-ins
// for the core (config section, host, loop, temporary directory): see
// tests/support/module_fakes.hpp.
#pragma once

#include "tests/support/module_fakes.hpp"
