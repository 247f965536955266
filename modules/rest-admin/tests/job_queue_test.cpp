// job_queue_test.cpp - the hand-off between civetweb workers and the loop.
#include "job_queue.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace geopol;
using namespace geopol::rest_admin;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Job> job(std::string path)
{
    AdminRequest r;
    r.method = "GET";
    r.path = std::move(path);
    return std::make_shared<Job>(std::move(r));
}

}  // namespace

TEST_CASE("posting wakes the loop once per post and the loop takes all jobs at once")
{
    JobQueue q;
    int wakes = 0;
    q.open([&] { ++wakes; });
    CHECK(q.post(job("/a")));
    CHECK(q.post(job("/b")));
    q.postLog(2, "line");
    CHECK(wakes == 3);  // uv_async_send coalesces these into one or more callbacks
    auto jobs = q.takeJobs();
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0]->request.path == "/a");
    CHECK(jobs[1]->request.path == "/b");
    CHECK(q.takeJobs().empty());
    auto logs = q.takeLogs();
    REQUIRE(logs.size() == 1);
    CHECK(logs[0].text == "line");
}

TEST_CASE("a worker gets the answer the loop gives, across threads")
{
    JobQueue q;
    std::atomic<int> wakes{0};
    q.open([&] { ++wakes; });
    auto j = job("/x");
    REQUIRE(q.post(j));
    std::thread loop([&] {
        while (wakes.load() == 0)
            std::this_thread::yield();
        for (auto &taken : q.takeJobs())
            CHECK(taken->complete(AdminResponse{202, "application/json", ""}));
    });
    auto r = j->wait(5s);
    loop.join();
    REQUIRE(r);
    CHECK(r->status == 202);
}

TEST_CASE("only the first answer counts")
{
    auto j = job("/x");
    CHECK(j->complete(AdminResponse{200, "application/json", "first"}));
    CHECK_FALSE(j->complete(AdminResponse{500, "application/json", "second"}));
    auto r = j->wait(0ms);
    REQUIRE(r);
    CHECK(r->body == "first");
}

TEST_CASE("a worker that timed out abandons the job; a late answer is dropped safely")
{
    auto j = job("/slow");
    std::weak_ptr<Job> weak = j;
    CHECK_FALSE(j->wait(10ms));
    CHECK_FALSE(j->complete(AdminResponse{200, "application/json", "late"}));
    // The worker is gone: the reply callback holds only the weak reference.
    j.reset();
    CHECK(weak.expired());
    if (auto again = weak.lock())
        again->complete({});  // not reached
}

TEST_CASE("closing answers queued jobs and refuses new ones without waking anyone")
{
    JobQueue q;
    int wakes = 0;
    q.open([&] { ++wakes; });
    auto j = job("/pending");
    REQUIRE(q.post(j));
    q.close(AdminResponse{503, "application/json", "stopping"});
    CHECK_FALSE(q.isOpen());
    auto r = j->wait(0ms);
    REQUIRE(r);
    CHECK(r->status == 503);
    int before = wakes;
    CHECK_FALSE(q.post(job("/late")));
    q.postLog(2, "dropped");
    CHECK(wakes == before);
    CHECK(q.takeJobs().empty());
    CHECK(q.takeLogs().empty());
}

TEST_CASE("many workers posting at once all get their own answers")
{
    JobQueue q;
    std::atomic<int> wakes{0};
    q.open([&] { ++wakes; });
    std::atomic<bool> stop{false};
    std::thread loop([&] {
        while (!stop.load()) {
            for (auto &j : q.takeJobs())
                j->complete(AdminResponse{200, "text/plain", j->request.path});
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> workers;
    std::atomic<int> ok{0};
    for (int w = 0; w < 8; ++w)
        workers.emplace_back([&, w] {
            for (int i = 0; i < 200; ++i) {
                auto j = job("/" + std::to_string(w) + "/" + std::to_string(i));
                if (!q.post(j))
                    return;
                auto r = j->wait(5s);
                if (r && r->body == j->request.path)
                    ++ok;
            }
        });
    for (auto &t : workers)
        t.join();
    stop = true;
    loop.join();
    CHECK(ok.load() == 8 * 200);
}
