// limits.cpp - LimitsModule: configure, start, and the per-request flow
// record -> decide -> (block) -> reply.
#include "limits.hpp"

#include <spdlog/spdlog.h>

#include "geopol/config.hpp"
#include "geopol/host.hpp"

namespace geopol::limits {

namespace {

void appendAll(std::vector<std::string> &out, const std::vector<std::string> &a,
               const std::vector<std::string> &b)
{
    out.clear();
    out.insert(out.end(), a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
}

/// The lists of the policy that applies, as the reference's decision line
/// shows them (home_countries_defined, trusted_*_defined).
void describePolicy(const Policy &policy, Verdict &v)
{
    v.homeCountriesDefined = *policy.homeCountries;
    v.trustedCountriesDefined = *policy.trustedCountries;
    v.trustedIpsDefined = *policy.trustedIpTexts;
}

}  // namespace

Status LimitsModule::configure(ConfigSection &cfg)
{
    readSettings(cfg, settings_);  // problems went to cfg.error()
    custom_.store(settings_.custom);
    // The file just read is at least as new as anything published before.
    customVersion_ = publishedCustomVersion();
    return Status::ok();
}

Status LimitsModule::start(Host &host)
{
    log_ = host.logger();
    host_ = &host;
    store_ = host.find<Store>("store");
    if (!store_)
        return Status::error("limits needs an account store: enable memory-store or redis-store");
    if (auto *admin = host.find<AdminCommands>("admin"))
        registerAdminCommands(*admin);
    for (const std::string &w : settings_.customWarnings)
        log_->warn("limits.custom_settings {}", w);
    if (!settings_.customSettingsPath.empty())
        log_->info("limits.custom_settings loaded {} entries from {}",
                   settings_.custom->entries().size(), settings_.customSettingsPath);
    return Status::ok();
}

void LimitsModule::stop()
{
    // Keep store_: a request of this chain may still be waiting for the
    // store, and its completion must be able to block. The store module of
    // the same chain lives as long as we do.
}

void LimitsModule::replaceCustomSettings(std::shared_ptr<const CustomSettings> settings)
{
    if (!settings)
        settings = std::make_shared<const CustomSettings>();
    custom_.store(std::move(settings));
}

Step LimitsModule::onRequest(Request &req)
{
    Facts &facts = req.facts;
    if (facts.account.empty()) {
        // Null sender (bounces) or no SASL login: nothing to count. The
        // reference answered DEFER here and tempfailed bounces forever.
        log_->debug("limits.no_identity request={} client={} reply=\"{}\"", req.id(),
                    facts.clientAddress, settings_.noIdentityAction);
        req.setReply(settings_.noIdentityAction);
        return Step::Done;
    }

    syncCustomSettings();
    auto custom = custom_.load();
    const CustomEntry *entry = custom->find(facts.account);
    Policy policy = effectivePolicy(settings_, entry);
    Plan plan = planRequest(facts, policy, settings_.counting);

    Pending pending;
    pending.limits = policy.limits;
    pending.trust = plan.trust;
    pending.home = plan.home;
    // The lists feed the info-level decision line and a REST /query with
    // details; fetching them costs. A dry run's inspect() returns them anyway.
    pending.wantLists = facts.dryRun || log_->should_log(spdlog::level::info);

    if (entry)
        log_->debug("limits.custom request={} account={} entry=\"{}\"", req.id(), facts.account,
                    entry->sender);
    if (pending.wantLists)
        describePolicy(policy, facts.verdict);

    Resume resume = req.suspend();
    if (facts.dryRun) {
        // A what-if question (REST /query): read, never record or block.
        DryRun dry{std::move(plan.ipKey), std::move(plan.country)};
        store_->inspect(facts.account,
                        [this, resume, pending, dry = std::move(dry)](const StoreResult &result) {
                            onInspected(resume, pending, dry, result);
                        });
        return Step::Suspend;
    }

    Observation obs;
    obs.account = facts.account;
    obs.ip = plan.ipKey;
    obs.country = plan.country;
    obs.home = plan.home;
    obs.wantLists = pending.wantLists;
    // The store copies obs before returning; the callback may run before
    // record() returns (memory-store), which the core handles.
    store_->record(obs, [this, resume, pending](const StoreResult &result) {
        onRecorded(resume, pending, result);
    });
    return Step::Suspend;
}

void LimitsModule::onRecorded(const Resume &resume, const Pending &pending,
                              const StoreResult &result)
{
    Request *req = resume.request();
    if (!req)
        return;  // timed out or the client went away; the core has answered
    if (!result.ok) {
        req->fail(result.error);
        resume(Step::Done);
        return;
    }
    decideAndReply(*req, resume, pending, result.state, true);
}

void LimitsModule::onInspected(const Resume &resume, const Pending &pending, const DryRun &dry,
                               const StoreResult &result)
{
    Request *req = resume.request();
    if (!req)
        return;
    if (!result.ok) {
        req->fail(result.error);
        resume(Step::Done);
        return;
    }
    Plan plan;
    plan.ipKey = dry.ipKey;
    plan.country = dry.country;
    plan.home = pending.home;
    decideAndReply(*req, resume, pending, projectRecord(result.state, plan), false);
}

void LimitsModule::decideAndReply(Request &req, const Resume &resume, const Pending &pending,
                                  const AccountState &s, bool mayBlock)
{
    Decision decision = decide(s, pending.limits, pending.trust);

    Verdict &v = req.facts.verdict;
    v.evaluated = true;
    v.home = pending.home;
    v.reject = decision.reject;
    v.reason = reasonName(decision.reason);
    v.countries = s.foreignCountries;
    v.maxCountries = pending.limits.maxCountries;
    v.ips = s.foreignIps;
    v.maxIps = pending.limits.maxIps;
    v.homeCountries = s.homeCountries;
    v.maxHomeCountries = pending.limits.maxHomeCountries;
    v.homeIps = s.homeIps;
    v.maxHomeIps = pending.limits.maxHomeIps;
    if (pending.wantLists) {
        appendAll(v.seenCountries, s.foreignCountryList, s.homeCountryList);
        appendAll(v.seenIps, s.foreignIpList, s.homeIpList);
        v.seenForeignCountries = static_cast<uint32_t>(s.foreignCountryList.size());
        v.seenForeignIps = static_cast<uint32_t>(s.foreignIpList.size());
    }

    log_->debug(
        "limits.decision request={} account={} dry_run={} reject={} reason={} countries={}/{} "
        "ips={}/{} home_countries={}/{} home_ips={}/{} block={}",
        req.id(), req.facts.account, !mayBlock, decision.reject, v.reason, v.countries,
        v.maxCountries, v.ips, v.maxIps, v.homeCountries, v.maxHomeCountries, v.homeIps,
        v.maxHomeIps, blockStateName(s.block));

    if (!decision.reject) {
        resume(Step::Continue);  // no reply: the core answers DUNNO
        return;
    }
    req.setReply(settings_.rejectAction);
    if (s.block != BlockState::None || !mayBlock) {
        v.blocked = s.block != BlockState::None;
        v.permanent = s.block == BlockState::Permanent;
        resume(Step::Continue);  // Continue, not Done: operator-mail and others still run
        return;
    }
    // Wait for the block so later modules know whether this request made the
    // transition (operator-mail sends one mail per transition).
    store_->block(req.facts.account,
                  [this, resume](const StoreResult &blocked) { onBlocked(resume, blocked); });
}

void LimitsModule::onBlocked(const Resume &resume, const StoreResult &result)
{
    Request *req = resume.request();
    if (!req)
        return;
    Verdict &v = req->facts.verdict;
    if (!result.ok) {
        // The decision stands: rejecting is right even if the block could not
        // be stored; the next request over the limit will try again.
        log_->warn("limits.block_failed request={} account={} error=\"{}\"", req->id(),
                   req->facts.account, result.error);
    } else {
        v.blocked = true;
        v.newlyBlocked = result.newly;
        v.permanent = result.state.block == BlockState::Permanent;
    }
    resume(Step::Continue);
}

}  // namespace geopol::limits
