// fakes.hpp - the redis-store unit tests use the modules' common stand-ins
// for the core (config section, host that keeps its log lines, loop,
// temporary directory): see tests/support/module_fakes.hpp.
#pragma once

#include "tests/support/module_fakes.hpp"
