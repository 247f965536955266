// worker.cpp
#include "worker.hpp"

#include <future>

namespace geopol::core {

LoopQueue::LoopQueue(uv_loop_t *loop)
{
    uv_async_init(loop, &async_, onAsync);
    async_.data = this;
}

void LoopQueue::post(std::function<void()> f)
{
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_)
        return;  // the loop is ending; nothing runs there any more
    jobs_.push_back(std::move(f));
    uv_async_send(&async_);  // the one libuv call that is safe from any thread
}

void LoopQueue::onAsync(uv_async_t *a)
{
    auto *self = static_cast<LoopQueue *>(a->data);
    // Sends coalesce: drain everything queued so far.
    std::deque<std::function<void()>> jobs;
    {
        std::lock_guard<std::mutex> lock(self->mutex_);
        jobs.swap(self->jobs_);
    }
    for (auto &job : jobs)
        job();
}

void LoopQueue::close()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_)
            return;
        closed_ = true;
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&async_), nullptr);
}

Worker::Worker(size_t index, uv_loop_t *sharedLoop)
    : index_(index), threaded_(sharedLoop == nullptr)
{
    if (threaded_) {
        uv_loop_init(&ownLoop_);
        loop_ = &ownLoop_;
    } else {
        loop_ = sharedLoop;
    }
    queue_ = std::make_unique<LoopQueue>(loop_);
    server_ = std::make_unique<Server>(loop_);
    query_ = std::make_unique<QueryService>(*server_);
    if (threaded_)
        thread_ = std::thread([this] { uv_run(loop_, UV_RUN_DEFAULT); });
}

Worker::~Worker()
{
    if (threaded_ && thread_.joinable()) {
        finish();
        thread_.join();
    } else if (!threaded_ && !finished_) {
        queue_->close();  // on the daemon's loop, which is still ours to touch
    }
    query_.reset();
    server_.reset();
    if (threaded_)
        uv_loop_close(&ownLoop_);
}

void Worker::call(const std::function<void()> &f)
{
    if (!threaded_) {
        f();
        return;
    }
    std::promise<void> done;
    auto future = done.get_future();
    queue_->post([&] {
        f();
        done.set_value();
    });
    future.wait();
}

void Worker::post(std::function<void()> f)
{
    queue_->post(std::move(f));  // asynchronous also without a thread of our own
}

void Worker::finish()
{
    if (finished_)
        return;
    finished_ = true;
    // The queue's async handle is what keeps an idle worker loop alive.
    queue_->post([this] { queue_->close(); });
}

}  // namespace geopol::core
