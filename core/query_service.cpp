// query_service.cpp
#include "query_service.hpp"

namespace geopol::core {

QueryService::~QueryService()
{
    for (auto &[raw, run] : active_)
        run->close();
}

void QueryService::query(std::vector<Attribute> attributes, QueryMode mode,
                         std::function<void(const QueryResult &)> done)
{
    const bool whatIf = mode == QueryMode::WhatIf;
    auto run =
        std::make_shared<RequestRun>(server_.loop(), whatIf ? whatIfStats_ : server_.stats(),
                                     whatIf ? whatIfFailureLog_ : server_.failureLog(), nullptr);
    RequestRun *raw = run.get();
    run->setFinished([this, raw, done = std::move(done)](std::string_view action) {
        QueryResult result;
        result.action.assign(action);
        result.failed = raw->request().failed();
        result.failure = raw->request().failure();
        result.facts = raw->request().facts;
        done(result);
        auto it = active_.find(raw);
        if (it != active_.end()) {
            it->second->close();  // keeps itself alive until its timer is closed
            active_.erase(it);
        }
    });
    active_.emplace(raw, run);
    Request &req = run->request();
    req.coreBind(run, whatIf ? &whatIfPeer_ : &decisionPeer_);
    req.coreReset(server_.nextRequestId());
    for (const auto &a : attributes)
        req.coreAddAttribute(a.name, a.value);
    req.facts.dryRun = whatIf;
    run->begin(server_.chain(), server_.settings());
}

}  // namespace geopol::core
