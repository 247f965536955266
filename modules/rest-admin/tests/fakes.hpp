// fakes.hpp - stand-ins for the core in the rest-admin unit tests: the
// modules' common config section (tests/support/module_fakes.hpp), a
// logger that discards everything, and a policy-query service that answers
// at once.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "geopol/policy_query.hpp"
#include "tests/support/module_fakes.hpp"

namespace geopol::testing {

inline std::shared_ptr<spdlog::logger> nullLogger()
{
    return std::make_shared<spdlog::logger>("test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

/// Answers every question with `result` before query() returns, and keeps
/// what it was asked.
class FakeQuery : public PolicyQuery {
public:
    // Copies, as the core does: the views need only live during query().
    std::vector<std::pair<std::string, std::string>> attrs;
    std::vector<QueryMode> modes;  ///< one per question
    QueryResult result;

    void query(std::vector<Attribute> a, QueryMode mode,
               std::function<void(const QueryResult &)> done) override
    {
        attrs.clear();
        for (const Attribute &x : a)
            attrs.emplace_back(x.name, x.value);
        modes.push_back(mode);
        done(result);
    }

    /// The value of the last question's attribute `name`, or "<absent>".
    std::string attribute(const std::string &name) const
    {
        for (const auto &[n, value] : attrs)
            if (n == name)
                return value;
        return "<absent>";
    }
};

}  // namespace geopol::testing
