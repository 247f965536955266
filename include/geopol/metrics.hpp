// metrics.hpp - the "metrics" service: Prometheus text exposition and health.
//
// Modules add sources in start(); rest-admin renders them on GET /metrics
// and asks the health checks on GET /health. Everything runs on the loop
// thread. Metric names start with `geopol_`; no sender or IP in labels.
#pragma once

#include <functional>
#include <string>

namespace geopol {

class Metrics {
public:
    virtual ~Metrics() = default;

    /// `source` appends complete exposition lines (# HELP, # TYPE, samples).
    virtual void addSource(std::function<void(std::string &out)> source) = 0;

    /// `check` returns "" when healthy, else what is wrong ("redis: disconnected").
    virtual void addHealthCheck(std::string name, std::function<std::string()> check) = 0;

    virtual void render(std::string &out) = 0;

    /// Problems of all health checks, "name: problem" each; empty when healthy.
    virtual std::vector<std::string> problems() = 0;
};

}  // namespace geopol
