// command.hpp - one Redis command on its way through a Link, and the
// intrusive lists that hold commands while they wait or are in flight.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "geopol/store.hpp"

namespace geopol::redis_store {

/// What a command does; decides how it is sent and how its reply is read.
enum class Op : uint8_t { Record, Block, Unlock, Inspect, Call };

/// The reply of an Op::Call command: `reply` is null when it failed, and
/// `error` then says why.
using CallDone = std::function<void(const redisReply *reply, const std::string &error)>;

class Link;
struct Ticket;

struct Command {
    Op op = Op::Call;

    // Record, Block, Unlock, Inspect.
    std::string key, ip, country;
    bool home = false, lists = false;
    StoreDone done;

    // Call: the arguments, sent as they are.
    std::vector<std::string> args;
    CallDone onReply;

    uint64_t deadline = 0;   ///< uv_now() time after which the command fails
    bool eval = false;       ///< re-sent with EVAL after NOSCRIPT
    bool handshake = false;  ///< connection set-up: dies with its connection
    uint8_t sends = 0;       ///< how often it was written to a connection

    // Owned by the Link.
    Ticket *ticket = nullptr;  ///< while hiredis holds a callback for it
    Command *prev = nullptr, *next = nullptr;

    bool isScript() const { return op == Op::Record || op == Op::Block || op == Op::Inspect; }
    /// Changes data on the master (a replica refuses it with READONLY).
    bool writes() const { return op == Op::Record || op == Op::Block || op == Op::Unlock; }
};

/// What hiredis gets as a callback's private data. It lives until hiredis
/// calls back (a reply, or NULL when the context is freed); a command that
/// was failed or moved meanwhile is detached by clearing `cmd`, so a late
/// callback never touches freed memory.
struct Ticket {
    Command *cmd;
    Link *link;
};

/// A doubly linked list of commands, oldest first; owns nothing.
class CommandList {
public:
    bool empty() const { return !head_; }
    size_t size() const { return size_; }
    Command *front() const { return head_; }

    void pushBack(Command *c);
    void pushFront(Command *c);
    /// Keeps the list sorted by deadline: walks from the back, since a
    /// command normally has the latest deadline.
    void insertByDeadline(Command *c);
    void remove(Command *c);
    Command *popFront();
    /// Moves every command of `other` in front of this list's, keeping order.
    void prepend(CommandList &other);

private:
    Command *head_ = nullptr, *tail_ = nullptr;
    size_t size_ = 0;
};

/// Completes `cmd` from a reply (or from `error` when reply is null), calls
/// its callback and deletes it. `where` names the server for messages.
void finish(Command *cmd, const redisReply *reply, std::string_view error, std::string_view where);

}  // namespace geopol::redis_store
