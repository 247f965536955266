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

/// One received attribute. Both views point into the Request and stay valid
/// until the request finishes.
struct Attribute {
    std::string_view name;
    std::string_view value;
};

class Request {
public:
    /// The value of attribute `name`; empty if absent or sent empty.
    /// Postfix sends an attribute once; if a client repeats one, the last wins.
    std::string_view attribute(std::string_view name) const
    {
        for (size_t i = count_; i-- > 0;)
            if (nameAt(i) == name)
                return valueAt(i);
        return {};
    }

    bool hasAttribute(std::string_view name) const
    {
        for (size_t i = 0; i < count_; ++i)
            if (nameAt(i) == name)
                return true;
        return false;
    }

    size_t attributeCount() const { return count_; }
    Attribute attributeAt(size_t i) const { return {nameAt(i), valueAt(i)}; }

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
        text_.clear();
        reply_.clear();
        failed_ = false;
        failure_.clear();
        facts.clear();
        generation_ = generation;
    }

    /// Adds the attribute of one "name=value" line; `eq` is the index of the
    /// first '='. One copy per line into one buffer: the parser's cost per
    /// attribute is what bounds throughput (bench/README.md).
    void coreAddLine(std::string_view line, size_t eq)
    {
        if (count_ == spans_.size())
            spans_.emplace_back();
        spans_[count_] = {static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(eq),
                          static_cast<uint32_t>(line.size() - eq - 1)};
        text_.append(line);
        ++count_;
    }

    void coreAddAttribute(std::string_view name, std::string_view value)
    {
        if (count_ == spans_.size())
            spans_.emplace_back();
        spans_[count_] = {static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(name.size()),
                          static_cast<uint32_t>(value.size())};
        text_.append(name).append(1, '=').append(value);
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
    /// Where attribute i's "name=value" starts in text_, and its two lengths.
    struct Span {
        uint32_t at, nameLength, valueLength;
    };
    std::string_view nameAt(size_t i) const
    {
        return {text_.data() + spans_[i].at, spans_[i].nameLength};
    }
    std::string_view valueAt(size_t i) const
    {
        return {text_.data() + spans_[i].at + spans_[i].nameLength + 1, spans_[i].valueLength};
    }

    // Both grow to the largest request seen, then are reused.
    std::string text_;         ///< the request's lines, newlines dropped
    std::vector<Span> spans_;  ///< one per attribute, in the order received
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
