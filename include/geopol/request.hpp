// request.hpp - one Postfix policy request as modules see it.
//
// The core owns Request objects (one per connection, reused). A module reads
// attributes, reads and writes facts, and either sets a reply, fails the
// request, or suspends it:
//
//   Step MyModule::onRequest(Request &req) {
//       Resume resume = req.suspend();
//       startLookup(..., [resume](Result r) {
//           Request *req = resume.request();
//           if (!req) return;            // timed out or the client went away
//           req->facts.country = r.cc;
//           resume(Step::Continue);
//       });
//       return Step::Suspend;
//   }
//
// A completion may also run before onRequest() returns (a synchronous
// backend); the chain runner handles that without recursion.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "geopol/facts.hpp"
#include "geopol/module.hpp"

namespace geopol {

class Request;

/// Implemented by the core; a Resume token calls back through it.
class ResumeTarget {
public:
    virtual ~ResumeTarget() = default;
    /// The request if `serial` is still the suspension in flight, else nullptr.
    virtual Request *live(uint64_t serial) = 0;
    virtual void resume(uint64_t serial, Step step) = 0;
};

/// Continues a suspended request. Cheap to copy; call it once, on the loop
/// thread. A token whose request timed out or whose connection closed is
/// stale: request() returns nullptr and calling it does nothing.
class Resume {
public:
    Resume() = default;
    Resume(std::weak_ptr<ResumeTarget> target, uint64_t serial)
        : target_(std::move(target)), serial_(serial)
    {
    }

    Request *request() const
    {
        auto t = target_.lock();
        return t ? t->live(serial_) : nullptr;
    }

    void operator()(Step step) const
    {
        if (auto t = target_.lock())
            t->resume(serial_, step);
    }

private:
    std::weak_ptr<ResumeTarget> target_;
    uint64_t serial_ = 0;
};

struct Attribute {
    std::string name;
    std::string value;
};

class Request {
public:
    /// The value of attribute `name`; empty if absent or sent empty.
    /// Postfix sends an attribute once; if a client repeats one, the last wins.
    std::string_view attribute(std::string_view name) const
    {
        for (size_t i = count_; i-- > 0;)
            if (attrs_[i].name == name)
                return attrs_[i].value;
        return {};
    }

    bool hasAttribute(std::string_view name) const
    {
        for (size_t i = 0; i < count_; ++i)
            if (attrs_[i].name == name)
                return true;
        return false;
    }

    size_t attributeCount() const { return count_; }
    const Attribute &attributeAt(size_t i) const { return attrs_[i]; }

    /// Sets the action line sent back, without "action=": "DUNNO",
    /// "REJECT Policy violation. Please contact your support", "DEFER ...".
    /// Must be one line of UTF-8; the core refuses anything else.
    void setReply(std::string_view action) { reply_.assign(action); }
    const std::string &reply() const { return reply_; }

    /// Marks the request failed: the core answers with the failing module's
    /// configured failure action and logs `why`. Return Step::Done after it.
    void fail(std::string_view why)
    {
        failed_ = true;
        failure_.assign(why);
    }
    bool failed() const { return failed_; }
    const std::string &failure() const { return failure_; }

    /// Parks the request; return Step::Suspend afterwards. Each call hands
    /// out a fresh token; tokens of earlier suspensions are then stale.
    Resume suspend() { return Resume(target_, ++suspendSerial_); }

    /// "127.0.0.1:41234" or "unix:/path", for logs.
    const std::string &peer() const { return *peer_; }
    /// Increasing number of this request within the process, for logs.
    uint64_t id() const { return generation_; }

    Facts facts;

    // ---- core side -------------------------------------------------------
    // Used by the core to fill and reset the request; modules do not call these.

    void coreReset(uint64_t generation)
    {
        count_ = 0;
        reply_.clear();
        failed_ = false;
        failure_.clear();
        facts.clear();
        generation_ = generation;
    }

    void coreAddAttribute(std::string_view name, std::string_view value)
    {
        if (count_ == attrs_.size())
            attrs_.emplace_back();
        attrs_[count_].name.assign(name);
        attrs_[count_].value.assign(value);
        ++count_;
    }

    /// The serial of the latest suspend() token.
    uint64_t coreSuspendSerial() const { return suspendSerial_; }
    /// Makes every outstanding token stale (timeout, disconnect, finish).
    void coreInvalidate() { ++suspendSerial_; }

    void coreBind(std::weak_ptr<ResumeTarget> target, const std::string *peer)
    {
        target_ = std::move(target);
        peer_ = peer;
    }

private:
    std::vector<Attribute> attrs_;  // grows to the largest request seen, then reused
    size_t count_ = 0;
    std::string reply_;
    bool failed_ = false;
    std::string failure_;
    std::weak_ptr<ResumeTarget> target_;
    uint64_t generation_ = 0;
    uint64_t suspendSerial_ = 0;
    const std::string *peer_ = &kNoPeer;

    static inline const std::string kNoPeer = "-";
};

}  // namespace geopol
