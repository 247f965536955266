// test-reply: answers with the `test_reply` attribute (or its `action` key),
// and can throw from configure() or fail start(), for the loader tests.
#include <stdexcept>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"

namespace {

class TestReply : public geopol::Module {
public:
    geopol::Status configure(geopol::ConfigSection &cfg) override
    {
        action_ = cfg.getString("action", "");
        stop_ = cfg.getBool("stop", true);
        std::string failIn = cfg.getString("fail-in", "");
        if (failIn == "configure-throw")
            throw std::runtime_error("configure exploded");
        if (failIn == "configure")
            return geopol::Status::error("told to refuse the configuration");
        failStart_ = failIn == "start";
        provides_ = cfg.getString("provides", "");
        needs_ = cfg.getString("needs", "");
        return geopol::Status::ok();
    }
    std::string_view provides() const override { return provides_; }
    std::string_view needs() const override { return needs_; }
    geopol::Status start(geopol::Host &host) override
    {
        if (failStart_)
            return geopol::Status::error("told to fail start()");
        // What the core promises by needs(): the providers have started.
        if (!needs_.empty() && !host.find(needs_))
            return geopol::Status::error("started before the provider of " + needs_);
        if (!provides_.empty())
            host.provide(provides_, this);
        return geopol::Status::ok();
    }
    geopol::Step onRequest(geopol::Request &req) override
    {
        std::string_view reply = req.attribute("test_reply");
        if (!reply.empty())
            req.setReply(reply);
        else if (!action_.empty())
            req.setReply(action_);
        else
            return geopol::Step::Continue;
        return stop_ ? geopol::Step::Done : geopol::Step::Continue;
    }

private:
    std::string action_, provides_, needs_;
    bool stop_ = true;
    bool failStart_ = false;
};

}  // namespace

GEOPOL_MODULE("test-reply", TestReply)
