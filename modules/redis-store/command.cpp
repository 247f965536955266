// command.cpp - CommandList and turning replies into StoreResults.
#include "command.hpp"

#include <fmt/format.h>

#include <memory>

#include "reply.hpp"

namespace geopol::redis_store {

void CommandList::pushBack(Command *c)
{
    c->prev = tail_;
    c->next = nullptr;
    (tail_ ? tail_->next : head_) = c;
    tail_ = c;
    ++size_;
}

void CommandList::pushFront(Command *c)
{
    c->prev = nullptr;
    c->next = head_;
    (head_ ? head_->prev : tail_) = c;
    head_ = c;
    ++size_;
}

void CommandList::insertByDeadline(Command *c)
{
    Command *after = tail_;
    while (after && after->deadline > c->deadline)
        after = after->prev;
    if (!after) {
        pushFront(c);
        return;
    }
    c->prev = after;
    c->next = after->next;
    (after->next ? after->next->prev : tail_) = c;
    after->next = c;
    ++size_;
}

void CommandList::remove(Command *c)
{
    (c->prev ? c->prev->next : head_) = c->next;
    (c->next ? c->next->prev : tail_) = c->prev;
    c->prev = c->next = nullptr;
    --size_;
}

Command *CommandList::popFront()
{
    Command *c = head_;
    if (c)
        remove(c);
    return c;
}

void CommandList::prepend(CommandList &other)
{
    while (Command *c = other.tail_) {
        other.remove(c);
        pushFront(c);
    }
}

void finish(Command *raw, const redisReply *reply, std::string_view error, std::string_view where)
{
    std::unique_ptr<Command> cmd(raw);
    if (cmd->op == Op::Call) {
        CallDone done = std::move(cmd->onReply);
        std::string why(error);
        cmd.reset();  // before the callback, which may queue new commands
        if (done)
            done(reply, why);
        return;
    }

    StoreResult r;
    if (!reply) {
        r.ok = false;
        r.error = fmt::format("redis: {}", error);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        r.ok = false;
        r.error = fmt::format("redis: {} ({})", describe(reply), where);
    } else if (cmd->op == Op::Unlock) {
        if (reply->type == REDIS_REPLY_INTEGER) {
            r.found = reply->integer > 0;
        } else {
            r.ok = false;
            r.error = "redis: unexpected reply to DEL: " + describe(reply);
        }
    } else {
        std::string why;
        if (!parseStateReply(reply, cmd->lists || cmd->op == Op::Inspect, r, why)) {
            r = StoreResult{};
            r.ok = false;
            r.error = "redis: " + why;
        }
    }
    StoreDone done = std::move(cmd->done);
    cmd.reset();
    if (done)
        done(r);
}

}  // namespace geopol::redis_store
