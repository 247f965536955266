// test-async: a module for the chain tests. It suspends every request and
// resumes it from a libuv timer, or synchronously, or never; it can fail.
#include <uv.h>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/request.hpp"

namespace {

class TestAsync : public geopol::Module {
public:
    geopol::Status configure(geopol::ConfigSection &cfg) override
    {
        delayMs_ = cfg.getInt("delay-ms", 10, 0, 60000);
        action_ = cfg.getString("action", "");
        mode_ = cfg.getString("mode", "timer");  // timer | sync | never | fail | throw
        return geopol::Status::ok();
    }
    geopol::Status start(geopol::Host &host) override
    {
        loop_ = host.loop();
        return geopol::Status::ok();
    }
    geopol::Step onRequest(geopol::Request &req) override
    {
        if (mode_ == "throw")
            throw std::runtime_error("test-async was told to throw");
        geopol::Resume resume = req.suspend();
        if (mode_ == "never")
            return geopol::Step::Suspend;
        if (mode_ == "sync") {
            finish(resume);
            return geopol::Step::Suspend;
        }
        auto *t = new Timer{{}, resume, this};
        uv_timer_init(loop_, &t->timer);
        t->timer.data = t;
        uv_timer_start(
            &t->timer,
            [](uv_timer_t *h) {
                auto *self = static_cast<Timer *>(h->data);
                self->module->finish(self->resume);
                uv_close(reinterpret_cast<uv_handle_t *>(h),
                         [](uv_handle_t *c) { delete static_cast<Timer *>(c->data); });
            },
            static_cast<uint64_t>(delayMs_), 0);
        return geopol::Step::Suspend;
    }

private:
    struct Timer {
        uv_timer_t timer;
        geopol::Resume resume;
        TestAsync *module;
    };

    void finish(const geopol::Resume &resume)
    {
        geopol::Request *req = resume.request();
        if (!req)
            return;
        if (mode_ == "fail") {
            req->fail("test-async was told to fail");
            resume(geopol::Step::Done);
            return;
        }
        if (!action_.empty())
            req->setReply(action_);
        resume(geopol::Step::Continue);
    }

    uv_loop_t *loop_ = nullptr;
    int64_t delayMs_ = 10;
    std::string action_, mode_;
};

}  // namespace

GEOPOL_MODULE("test-async", TestAsync)
