// fakes.hpp - stand-ins for the core in the limits unit tests: a resume
// target and an account store that counts in sets; the config section, the
// host and temporary files are the modules' common ones (module_fakes.hpp).
#pragma once

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "geopol/request.hpp"
#include "geopol/store.hpp"
#include "tests/support/module_fakes.hpp"

namespace geopol::testing {

/// Plays the core's part for one Request: records every resume call.
class TestResumeTarget : public ResumeTarget {
public:
    explicit TestResumeTarget(Request *req) : req_(req) {}
    Request *live(uint64_t generation) override
    {
        return gone_ || generation != req_->id() ? nullptr : req_;
    }
    void resume(uint64_t generation, Step step) override
    {
        if (live(generation))
            steps.push_back(step);
    }
    /// The client went away: later completions must find no request.
    void disconnect() { gone_ = true; }

    std::vector<Step> steps;

private:
    Request *req_;
    bool gone_ = false;
};

/// Counts in ordered sets, like a store with an infinite TTL. Completes
/// callbacks at once (synchronous) or when the test calls completeAll().
class FakeStore : public Store {
public:
    bool deferred = false;
    bool blockPermanent = false;
    std::string failRecord;         ///< non-empty: record() fails with this error
    std::string failBlock;          ///< non-empty: block() fails with this error
    std::vector<Observation> seen;  ///< copies; views refer into recorded strings
    int blockCalls = 0;

    struct Account {
        std::set<std::string> foreignIps, foreignCountries, homeIps, homeCountries;
        BlockState block = BlockState::None;
    };
    std::map<std::string, Account, std::less<>> accounts;

    void record(const Observation &obs, StoreDone done) override
    {
        // Keep owning copies: obs's views die with the caller's frame.
        keep_.emplace_back(std::string(obs.account));
        keep_.emplace_back(std::string(obs.ip));
        keep_.emplace_back(std::string(obs.country));
        auto it = keep_.end();
        Observation copy = obs;
        copy.country = *--it;
        copy.ip = *--it;
        copy.account = *--it;
        seen.push_back(copy);

        StoreResult r;
        if (!failRecord.empty()) {
            r.ok = false;
            r.error = failRecord;
        } else {
            Account &a = accounts[std::string(obs.account)];
            if (!obs.ip.empty())
                (obs.home ? a.homeIps : a.foreignIps).insert(std::string(obs.ip));
            if (!obs.country.empty())
                (obs.home ? a.homeCountries : a.foreignCountries).insert(std::string(obs.country));
            fill(a, r.state, obs.wantLists);
        }
        complete(std::move(done), std::move(r));
    }

    void block(std::string_view account, StoreDone done) override
    {
        ++blockCalls;
        StoreResult r;
        if (!failBlock.empty()) {
            r.ok = false;
            r.error = failBlock;
        } else {
            Account &a = accounts[std::string(account)];
            if (a.block == BlockState::None) {
                a.block = blockPermanent ? BlockState::Permanent : BlockState::Temporary;
                r.newly = true;
            }
            fill(a, r.state, false);
        }
        complete(std::move(done), std::move(r));
    }

    void unlock(std::string_view account, StoreDone done) override
    {
        StoreResult r;
        r.found = accounts.erase(std::string(account)) > 0;
        complete(std::move(done), std::move(r));
    }

    void inspect(std::string_view account, StoreDone done) override
    {
        StoreResult r;
        auto it = accounts.find(account);
        r.found = it != accounts.end();
        if (r.found)
            fill(it->second, r.state, true);
        complete(std::move(done), std::move(r));
    }

    /// Runs the deferred callbacks, including those they queue in turn.
    void completeOne()
    {
        REQUIRE(!pending_.empty());
        auto job = std::move(pending_.front());
        pending_.pop_front();
        job();
    }
    void completeAll()
    {
        while (!pending_.empty()) {
            auto job = std::move(pending_.front());
            pending_.pop_front();
            job();
        }
    }
    size_t pendingCount() const { return pending_.size(); }

private:
    static void fill(const Account &a, AccountState &s, bool lists)
    {
        s.foreignIps = static_cast<uint32_t>(a.foreignIps.size());
        s.foreignCountries = static_cast<uint32_t>(a.foreignCountries.size());
        s.homeIps = static_cast<uint32_t>(a.homeIps.size());
        s.homeCountries = static_cast<uint32_t>(a.homeCountries.size());
        s.block = a.block;
        if (lists) {
            s.foreignIpList.assign(a.foreignIps.begin(), a.foreignIps.end());
            s.foreignCountryList.assign(a.foreignCountries.begin(), a.foreignCountries.end());
            s.homeIpList.assign(a.homeIps.begin(), a.homeIps.end());
            s.homeCountryList.assign(a.homeCountries.begin(), a.homeCountries.end());
        }
    }

    void complete(StoreDone done, StoreResult r)
    {
        if (!deferred) {
            done(r);
            return;
        }
        pending_.emplace_back([done = std::move(done), r = std::move(r)] { done(r); });
    }

    std::deque<std::string> keep_;  // deque: references stay valid as it grows
    std::deque<std::function<void()>> pending_;
};

}  // namespace geopol::testing
