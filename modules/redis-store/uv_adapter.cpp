// uv_adapter.cpp - the hiredis event hooks on a uv_poll_t.
#include "uv_adapter.hpp"

namespace geopol::redis_store {

namespace {

struct Poll {
    redisAsyncContext *context;  ///< null once hiredis cleaned up
    uv_poll_t handle;
    int events = 0;  ///< what hiredis waits for
    int active = 0;  ///< what the poll handle watches
};

void onPoll(uv_poll_t *handle, int status, int events);

// hiredis asks for reads again after every read; restarting a poll handle
// makes libuv re-register the socket with epoll, so only real changes count.
void update(Poll *p)
{
    if (p->events == p->active)
        return;
    if (p->events)
        uv_poll_start(&p->handle, p->events, onPoll);
    else
        uv_poll_stop(&p->handle);
    p->active = p->events;
}

void onPoll(uv_poll_t *handle, int status, int events)
{
    auto *p = static_cast<Poll *>(handle->data);
    int ready = events;
    if (status != 0) {
        ready = p->events;
        p->active = 0;  // libuv stopped the handle
    }
    if (p->context && (ready & UV_READABLE))
        redisAsyncHandleRead(p->context);
    // Reading may have ended the connection (cleanup cleared context).
    if (p->context && (ready & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
    if (p->context)
        update(p);  // after an error, watch again what hiredis still waits for
}

void addRead(void *privdata)
{
    auto *p = static_cast<Poll *>(privdata);
    p->events |= UV_READABLE;
    update(p);
}

void delRead(void *privdata)
{
    auto *p = static_cast<Poll *>(privdata);
    p->events &= ~UV_READABLE;
    update(p);
}

void addWrite(void *privdata)
{
    auto *p = static_cast<Poll *>(privdata);
    p->events |= UV_WRITABLE;
    update(p);
}

void delWrite(void *privdata)
{
    auto *p = static_cast<Poll *>(privdata);
    p->events &= ~UV_WRITABLE;
    update(p);
}

void cleanup(void *privdata)
{
    auto *p = static_cast<Poll *>(privdata);
    if (!p->context)
        return;  // already closing
    p->context = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(&p->handle),
             [](uv_handle_t *h) { delete static_cast<Poll *>(h->data); });
}

}  // namespace

int attachToLoop(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    auto *p = new Poll{ac, {}, 0, 0};
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        delete p;
        return REDIS_ERR;
    }
    p->handle.data = p;
    ac->ev.addRead = addRead;
    ac->ev.delRead = delRead;
    ac->ev.addWrite = addWrite;
    ac->ev.delWrite = delWrite;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}

}  // namespace geopol::redis_store
