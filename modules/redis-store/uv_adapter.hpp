// uv_adapter.hpp - attaches a hiredis async context to a libuv loop.
//
// The same design as hiredis' adapters/libuv.h (a uv_poll_t on the socket,
// freed in its close callback after hiredis let go of it), with the fix
// hiredis made after 0.14.1: libuv reports a socket error (POLLERR: a refused
// connect, a reset) as a non-zero status with no events and stops the
// handle. The 0.14.1 adapter ignored such calls, so hiredis never noticed the
// error and the connection hung until a timeout. Here hiredis is handed the
// events it was waiting for, reads or writes, finds the error and gives up
// the connection at once.
#pragma once

#include <hiredis/async.h>
#include <uv.h>

namespace geopol::redis_store {

/// REDIS_OK, or REDIS_ERR (the context is then untouched and can be freed).
int attachToLoop(redisAsyncContext *ac, uv_loop_t *loop);

}  // namespace geopol::redis_store
