// fakes.hpp - stand-ins for the core in the rest-admin unit tests: the
// modules' common config section (tests/support/module_fakes.hpp) and a
// logger that discards everything.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "tests/support/module_fakes.hpp"

namespace geopol::testing {

inline std::shared_ptr<spdlog::logger> nullLogger()
{
    return std::make_shared<spdlog::logger>("test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

}  // namespace geopol::testing
