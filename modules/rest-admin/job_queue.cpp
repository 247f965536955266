// job_queue.cpp
#include "job_queue.hpp"

namespace geopol::rest_admin {

bool Job::complete(AdminResponse response)
{
    {
        std::lock_guard lock(mutex_);
        if (done_ || abandoned_)
            return false;
        response_ = std::move(response);
        done_ = true;
    }
    cv_.notify_all();
    return true;
}

std::optional<AdminResponse> Job::wait(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [this] { return done_; })) {
        abandoned_ = true;
        return std::nullopt;
    }
    return response_;
}

bool Job::completed() const
{
    std::lock_guard lock(mutex_);
    return done_;
}

void JobQueue::open(Wake wake)
{
    std::lock_guard lock(mutex_);
    wake_ = std::move(wake);
    open_ = true;
}

void JobQueue::close(const AdminResponse &answer)
{
    std::deque<std::shared_ptr<Job>> left;
    {
        std::lock_guard lock(mutex_);
        open_ = false;
        wake_ = nullptr;
        left.swap(jobs_);
        logs_.clear();
    }
    for (auto &job : left)
        job->complete(answer);
}

bool JobQueue::isOpen() const
{
    std::lock_guard lock(mutex_);
    return open_;
}

bool JobQueue::post(std::shared_ptr<Job> job)
{
    std::lock_guard lock(mutex_);
    if (!open_)
        return false;
    jobs_.push_back(std::move(job));
    // Under the lock: close() cannot slip in between and let the loop close
    // the async handle while we still call into it.
    if (wake_)
        wake_();
    return true;
}

void JobQueue::postLog(int level, std::string text)
{
    std::lock_guard lock(mutex_);
    if (!open_)
        return;
    logs_.push_back(LogRecord{level, std::move(text)});
    if (wake_)
        wake_();
}

std::deque<std::shared_ptr<Job>> JobQueue::takeJobs()
{
    std::lock_guard lock(mutex_);
    std::deque<std::shared_ptr<Job>> out;
    out.swap(jobs_);
    return out;
}

std::vector<LogRecord> JobQueue::takeLogs()
{
    std::lock_guard lock(mutex_);
    std::vector<LogRecord> out;
    out.swap(logs_);
    return out;
}

}  // namespace geopol::rest_admin
