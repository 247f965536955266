// command_test.cpp - the command lists, finish(), SHA-1 and the scripts' digests.
#include "command.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "resp.hpp"
#include "scripts.hpp"
#include "sha1.hpp"

using namespace geopol;
using namespace geopol::redis_store;
using geopol::testing::intArray;
using geopol::testing::resp;

namespace {

std::vector<uint64_t> deadlines(const CommandList &l)
{
    std::vector<uint64_t> out;
    for (Command *c = l.front(); c; c = c->next)
        out.push_back(c->deadline);
    return out;
}

}  // namespace

TEST_CASE("CommandList keeps deadline order and unlinks from anywhere")
{
    Command a, b, c, d, e;
    a.deadline = 10;
    b.deadline = 20;
    c.deadline = 30;
    d.deadline = 15;
    e.deadline = 5;
    CommandList l;
    CHECK(l.empty());
    l.insertByDeadline(&a);
    l.insertByDeadline(&b);
    l.insertByDeadline(&c);
    l.insertByDeadline(&d);
    l.insertByDeadline(&e);
    CHECK(deadlines(l) == std::vector<uint64_t>{5, 10, 15, 20, 30});
    CHECK(l.size() == 5);
    l.remove(&d);
    l.remove(&c);
    CHECK(deadlines(l) == std::vector<uint64_t>{5, 10, 20});
    CHECK(l.popFront() == &e);
    CommandList other;
    Command x, y;
    x.deadline = 1;
    y.deadline = 2;
    other.pushBack(&x);
    other.pushBack(&y);
    l.prepend(other);
    CHECK(other.empty());
    CHECK(deadlines(l) == std::vector<uint64_t>{1, 2, 10, 20});
    l.pushFront(&c);
    CHECK(l.front() == &c);
    while (l.popFront()) {
    }
    CHECK(l.size() == 0);
}

TEST_CASE("finish(): script replies, DEL, errors and no reply")
{
    StoreResult got;
    auto make = [&](Op op) {
        auto *c = new Command;
        c->op = op;
        c->done = [&](const StoreResult &r) { got = r; };
        return c;
    };
    finish(make(Op::Record), resp(intArray({1, 3, 1, 0, 0, 0, -1, 3600, 0})).get(), {}, "master");
    CHECK(got.ok);
    CHECK(got.state.foreignIps == 3);

    finish(make(Op::Unlock), resp(":1\r\n").get(), {}, "master");
    CHECK(got.ok);
    CHECK(got.found);
    finish(make(Op::Unlock), resp(":0\r\n").get(), {}, "master");
    CHECK_FALSE(got.found);

    finish(make(Op::Block), resp("-GEOPOL_BADVALUE geopol_x is bad\r\n").get(), {},
           "master 127.0.0.1:6379");
    CHECK_FALSE(got.ok);
    CHECK(got.error == "redis: GEOPOL_BADVALUE geopol_x is bad (master 127.0.0.1:6379)");

    finish(make(Op::Inspect), nullptr, "timeout after 500 ms (master 127.0.0.1:6379)", "master");
    CHECK_FALSE(got.ok);
    CHECK(got.error == "redis: timeout after 500 ms (master 127.0.0.1:6379)");

    // Inspect always carries lists; a reply without them is refused.
    finish(make(Op::Inspect), resp(intArray({1, 3, 1, 0, 0, 0, -1, 3600, 0})).get(), {}, "m");
    CHECK_FALSE(got.ok);

    std::string called;
    auto *call = new Command;
    call->onReply = [&](const redisReply *r, const std::string &e) {
        called = r ? "reply" : "error: " + e;
    };
    finish(call, nullptr, "down", "sentinel");
    CHECK(called == "error: down");
}

TEST_CASE("SHA-1 test vectors")
{
    CHECK(sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(sha1Hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    // Lengths around the 55/56/64-byte padding boundaries.
    CHECK(sha1Hex(std::string(55, 'x')) != sha1Hex(std::string(56, 'x')));
    CHECK(sha1Hex(std::string(64, 'x')).size() == 40);
}

TEST_CASE("the scripts are distinct and named by their digest")
{
    const Script &rec = script(ScriptId::Record);
    const Script &blk = script(ScriptId::Block);
    const Script &ins = script(ScriptId::Inspect);
    CHECK(rec.name == "record");
    CHECK(rec.sha == sha1Hex(rec.body));
    CHECK(rec.sha != blk.sha);
    CHECK(blk.sha != ins.sha);
    // The inspect script must run on a read-only replica: it writes nothing.
    auto inspectPart = ins.body.substr(ins.body.find("local function bad()"));
    CHECK(inspectPart.find("redis.call('SET'") == std::string::npos);
    CHECK(inspectPart.find("save(") == std::string::npos);
}
