// request_run.cpp
#include "chain/request_run.hpp"

#include <algorithm>

#include "chain/chain.hpp"
#include "log/decision_log.hpp"
#include "log/logging.hpp"
#include "net/server.hpp"

namespace geopol::core {

void asciiLower(std::string &s)
{
    for (char &c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
}

RequestRun::RequestRun(uv_loop_t *loop, ServerStats &stats, RateLimitedLog &failureLog,
                       Finished finished)
    : loop_(loop), stats_(stats), failureLog_(failureLog), finished_(std::move(finished))
{
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

void RequestRun::close()
{
    if (closed_)
        return;
    closed_ = true;
    req_.coreInvalidate();  // outstanding Resume tokens become no-ops
    inFlight_ = suspended_ = false;
    chain_.reset();
    selfWhileClosing_ = shared_from_this();
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), [](uv_handle_t *h) {
        auto *self = static_cast<RequestRun *>(h->data);
        auto keep = std::move(self->selfWhileClosing_);  // may free self on return
    });
}

void RequestRun::begin(std::shared_ptr<Chain> chain, std::shared_ptr<const ServerSettings> settings)
{
    inFlight_ = true;
    startNs_ = uv_hrtime();
    chain_ = std::move(chain);
    settings_ = std::move(settings);
    stats_.requests.bump();

    if (req_.attribute("request") != "smtpd_access_policy" || !chain_) {
        // Not a question we answer (or no request= at all): no opinion.
        req_.setReply("DUNNO");
        finish();
        return;
    }
    Facts &f = req_.facts;
    f.identity.assign(req_.attribute(settings_->identity));
    f.account = f.identity;
    asciiLower(f.account);
    f.accountKnown = settings_->forceUserKnown;
    f.clientAddress.assign(req_.attribute("client_address"));
    if (auto ip = IpAddress::parse(f.clientAddress)) {
        f.client = *ip;
        f.clientValid = true;
        f.addressClass = ip->classify();
    }
    runChain(0);
}

Step RequestRun::callModule(size_t index)
{
    ChainModule *m = chain_->requestModules()[index];
    inCall_ = true;
    pendingResume_ = false;
    Step step;
    try {
        step = m->module->onRequest(req_);
    } catch (const std::exception &e) {
        req_.fail(std::string("onRequest() threw: ") + e.what());
        step = Step::Done;
    } catch (...) {
        req_.fail("onRequest() threw a non-standard exception");
        step = Step::Done;
    }
    inCall_ = false;
    if (step == Step::Suspend && pendingResume_) {
        // The module's backend answered before onRequest() returned.
        pendingResume_ = false;
        step = pendingStep_;
        if (step == Step::Suspend) {
            req_.fail("resumed with Step::Suspend");
            step = Step::Done;
        }
    }
    return step;
}

void RequestRun::runChain(size_t from)
{
    const auto &mods = chain_->requestModules();
    for (size_t i = from; i < mods.size(); ++i) {
        index_ = i;
        Step step = callModule(i);
        if (step == Step::Suspend) {
            suspended_ = true;
            armDeadline();
            return;
        }
        if (step == Step::Done || req_.failed())
            break;
    }
    finish();
}

Request *RequestRun::live(uint64_t serial)
{
    if (closed_ || !inFlight_ || serial != req_.coreSuspendSerial())
        return nullptr;
    return &req_;
}

void RequestRun::resume(uint64_t serial, Step step)
{
    if (!live(serial))
        return;  // timed out, finished or disconnected: a no-op
    if (inCall_) {
        pendingResume_ = true;
        pendingStep_ = step;
        return;
    }
    if (!suspended_)
        return;
    suspended_ = false;
    uv_timer_stop(&timer_);
    req_.coreInvalidate();  // one resume per suspension
    if (step == Step::Suspend) {
        req_.fail("resumed with Step::Suspend");
        step = Step::Done;
    }
    if (step == Step::Done || req_.failed())
        finish();
    else
        runChain(index_ + 1);
}

const std::string &RequestRun::failureActionOf(size_t index) const
{
    const auto &mods = chain_->requestModules();
    if (index < mods.size())
        return mods[index]->failureAction;
    return settings_->failureAction;
}

void RequestRun::finish()
{
    std::string_view action;
    if (req_.failed()) {
        action = failureActionOf(index_);
        stats_.failures.bump();
        uint64_t skipped = 0;
        if (failureLog_.allow(uv_now(loop_), skipped)) {
            const auto &mods = chain_->requestModules();
            namedLogger("geopol")->warn(
                "request {} from {}: module {} failed: {}; answered '{}'{}", req_.id(), req_.peer(),
                index_ < mods.size() ? mods[index_]->name : "-", req_.failure(), action,
                skipped ? " (" + std::to_string(skipped) + " similar failures not logged)"
                        : std::string());
        }
    } else if (req_.reply().empty()) {
        action = "DUNNO";
    } else if (!validActionText(req_.reply())) {
        namedLogger("geopol")->error(
            "request {}: a module set an invalid reply (not one line of "
            "UTF-8); answered with the failure action",
            req_.id());
        stats_.failures.bump();
        action = failureActionOf(index_);
    } else {
        action = req_.reply();
    }
    stats_.count(action, uv_hrtime() - startNs_);

    // Looked up once: loggers are never dropped (log/logging.cpp), and the
    // registry's mutex and map were 1 % of a request's instructions.
    static const std::shared_ptr<spdlog::logger> decision = namedLogger("decision");
    if (decision->should_log(spdlog::level::info) && !req_.facts.account.empty())
        logDecision(*decision,
                    {settings_->logJson, settings_->logReferenceDecisions, settings_->identity},
                    req_, action);

    // The action may live in the chain, which the reset below can free.
    action_.assign(action);
    req_.coreInvalidate();
    inFlight_ = false;
    suspended_ = false;
    chain_.reset();
    finished_(action_);
}

void RequestRun::armDeadline()
{
    int64_t elapsedMs = static_cast<int64_t>((uv_hrtime() - startNs_) / 1'000'000);
    int64_t left = settings_->requestTimeoutMs - elapsedMs;
    uv_timer_start(&timer_, onDeadline, static_cast<uint64_t>(std::max<int64_t>(left, 0)), 0);
}

void RequestRun::onDeadline(uv_timer_t *t)
{
    auto *self = static_cast<RequestRun *>(t->data);
    if (!self->inFlight_ || !self->suspended_)
        return;
    const auto &mods = self->chain_->requestModules();
    std::string who = self->index_ < mods.size() ? mods[self->index_]->name : "-";
    self->req_.coreInvalidate();  // a late completion is ignored
    self->suspended_ = false;
    self->stats_.timeouts.bump();
    self->req_.fail("no answer within " + std::to_string(self->settings_->requestTimeoutMs) +
                    " ms (server.request-timeout) from module " + who);
    self->finish();
}

}  // namespace geopol::core
