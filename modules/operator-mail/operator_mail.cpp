// operator_mail.cpp
#include "operator_mail.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "curl_transport.hpp"
#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::operator_mail {

namespace {

std::string joinedRecipients(const SmtpSettings &s)
{
    std::string out;
    for (const std::string &r : s.rcptTo) {
        if (!out.empty())
            out += ", ";
        out += r;
    }
    return out;
}

std::unique_ptr<Transport> makeCurlTransport(uv_loop_t *loop, const SmtpSettings &settings,
                                             std::string &error)
{
    return CurlTransport::start(loop, settings, error);
}

}  // namespace

OperatorMailModule::OperatorMailModule() : factory_(makeCurlTransport) {}

OperatorMailModule::OperatorMailModule(TransportFactory factory) : factory_(std::move(factory)) {}

Status OperatorMailModule::configure(ConfigSection &cfg)
{
    readSettings(cfg, settings_);  // problems went to cfg.error()
    return Status::ok();
}

Status OperatorMailModule::start(Host &host)
{
    log_ = host.logger();
    loop_ = host.loop();
    if (!settings_.active()) {
        // Loaded but switched off: say so, a silent module looks broken.
        log_->warn(
            "operator_mail.inactive run-actions={} run-action-operator={}: both must be true "
            "for operator mails to be sent",
            settings_.runActions, settings_.runActionOperator);
        return Status::ok();
    }
    store_ = host.find<Store>("store");
    if (!store_)
        log_->info(
            "operator_mail.no_store: mails list only the countries and addresses the blocking "
            "request knew");

    std::string error;
    std::unique_ptr<Transport> transport = factory_(loop_, settings_.smtp, error);
    if (!transport)
        return Status::error("cannot start the mail sender: " + error);

    OutboxSettings os;
    os.capacity = settings_.queueSize;
    os.parallel = settings_.parallel;
    os.retries = settings_.retries;
    os.retryDelayMs = settings_.retryDelayMs;
    os.drainTimeoutMs = settings_.drainTimeoutMs;
    os.recipients = joinedRecipients(settings_.smtp);
    outbox_ = new Outbox(loop_, os, std::move(transport), log_);

    kick_ = new uv_timer_t;
    uv_timer_init(loop_, kick_);
    kick_->data = this;

    const SmtpSettings &m = settings_.smtp;
    log_->info(
        "operator_mail.started server={}:{} tls={}{} auth={} from={} to=\"{}\" template={} "
        "only_known_accounts={} queue_size={} retries={}",
        m.host, m.port, m.tlsMode(), m.skipVerify ? " (certificate not verified)" : "",
        m.username.empty() ? "none" : "user " + m.username, m.mailFrom, os.recipients,
        settings_.templatePath.empty() ? "built-in" : settings_.templatePath,
        settings_.onlyKnownAccounts, settings_.queueSize, settings_.retries);
    return Status::ok();
}

Step OperatorMailModule::onRequest(Request &req)
{
    if (!outbox_)
        return Step::Continue;  // inactive
    const Facts &facts = req.facts;
    if (!facts.verdict.newlyBlocked)
        return Step::Continue;  // the common case: one branch and out

    if (settings_.onlyKnownAccounts && !facts.accountKnown) {
        log_->info(
            "operator_mail.not_sent request={} account={}: the account is not known (no "
            "directory confirmed it; see only-known-accounts and server.force-user-known)",
            req.id(), facts.account);
        return Step::Continue;
    }
    if (!outbox_->reserve()) {
        ++dropped_;
        // Warn once per burst; a flood of blocks must not flood the log too.
        if (droppedInARow_++ == 0)
            log_->warn(
                "operator_mail.dropped request={} account={}: the queue is full ({} mails); "
                "further drops are logged at debug until there is room again",
                req.id(), facts.account, outbox_->capacity());
        else
            log_->debug("operator_mail.dropped request={} account={} dropped_in_a_row={}", req.id(),
                        facts.account, droppedInARow_);
        return Step::Continue;
    }
    if (droppedInARow_ > 0) {
        log_->info("operator_mail.queue_has_room again after dropping {} mails", droppedInARow_);
        droppedInARow_ = 0;
    }

    auto p = std::make_shared<Pending>();
    p->notice = Notice::fromFacts(facts, req.id(), std::time(nullptr));
    inbox_.push_back(std::move(p));
    // The store lookup and the composing wait for the next loop turn: the
    // reply goes out first.
    if (!uv_is_active(reinterpret_cast<uv_handle_t *>(kick_)))
        uv_timer_start(
            kick_, [](uv_timer_t *t) { static_cast<OperatorMailModule *>(t->data)->onKick(); }, 0,
            0);
    log_->info("operator_mail.queued request={} account={} reason={} queue={}/{}", req.id(),
               facts.account, facts.verdict.reason, outbox_->size(), outbox_->capacity());
    return Step::Continue;
}

void OperatorMailModule::onKick()
{
    std::vector<std::shared_ptr<Pending>> batch;
    batch.swap(inbox_);
    for (const auto &p : batch)
        lookUp(p);
}

void OperatorMailModule::lookUp(const std::shared_ptr<Pending> &p)
{
    if (!store_) {
        compose(*p, nullptr);
        return;
    }
    composing_.push_back(p);
    std::weak_ptr<Pending> weak = p;
    // The callback may run inside inspect() (memory-store) or later (redis).
    store_->inspect(p->notice.account, [this, weak](const StoreResult &result) {
        auto pending = weak.lock();
        if (!pending || pending->done)
            return;  // stop() composed it already; `this` may be gone
        compose(*pending, &result);
    });
}

void OperatorMailModule::compose(Pending &p, const StoreResult *inspected)
{
    p.done = true;
    composing_.erase(std::remove_if(composing_.begin(), composing_.end(),
                                    [&p](const auto &q) { return q.get() == &p; }),
                     composing_.end());

    SeenLists lists;
    const SeenLists *seen = nullptr;
    if (inspected && !inspected->ok) {
        log_->warn(
            "operator_mail.inspect_failed account={} error=\"{}\": the mail lists only what the "
            "blocking request knew",
            p.notice.account, inspected->error);
    } else if (inspected && inspected->found) {
        const AccountState &s = inspected->state;
        lists.foreignCountries = s.foreignCountryList;
        lists.homeCountries = s.homeCountryList;
        lists.foreignIps = s.foreignIpList;
        lists.homeIps = s.homeIpList;
        seen = &lists;
    }
    Message m = settings_.composer->compose(p.notice, seen, std::time(nullptr));
    Letter letter;
    letter.account = p.notice.account;
    letter.messageId = m.messageId;
    letter.data = std::make_shared<const std::string>(std::move(m.data));
    outbox_->post(std::move(letter));
}

void OperatorMailModule::stop()
{
    if (kick_) {
        uv_timer_stop(kick_);
        uv_close(reinterpret_cast<uv_handle_t *>(kick_),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
        kick_ = nullptr;
    }
    if (outbox_) {
        // Nothing accepted is lost by a reload: what is still waiting is
        // composed now (with the store if it answers at once), and the
        // outbox gets drain-timeout to send it.
        std::vector<std::shared_ptr<Pending>> batch;
        batch.swap(inbox_);
        for (const auto &p : batch)
            lookUp(p);
        std::vector<std::shared_ptr<Pending>> waiting;
        waiting.swap(composing_);
        for (const auto &p : waiting)
            if (!p->done)
                compose(*p, nullptr);
        outbox_->shutdown();
        outbox_ = nullptr;
    }
    store_ = nullptr;
}

}  // namespace geopol::operator_mail
