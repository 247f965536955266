// reply_test.cpp - script, Sentinel and ROLE replies; error classes.
#include "reply.hpp"

#include <doctest/doctest.h>

#include "resp.hpp"

using namespace geopol;
using namespace geopol::redis_store;
using geopol::testing::bulk;
using geopol::testing::intArray;
using geopol::testing::resp;

TEST_CASE("a record reply without lists")
{
    auto r = resp(intArray({1, 4, 2, 1, 1, 1, 3599, 3600, 0}));
    StoreResult out;
    std::string error;
    REQUIRE(parseStateReply(r.get(), false, out, error));
    CHECK(out.ok);
    CHECK(out.found);
    CHECK(out.state.foreignIps == 4);
    CHECK(out.state.foreignCountries == 2);
    CHECK(out.state.homeIps == 1);
    CHECK(out.state.homeCountries == 1);
    CHECK(out.state.block == BlockState::Temporary);
    CHECK(out.state.blockTtlSeconds == 3599);
    CHECK(out.state.ttlSeconds == 3600);
    CHECK_FALSE(out.newly);
    CHECK(out.state.foreignIpList.empty());
}

TEST_CASE("a reply with lists, including empty ones")
{
    std::string lists = "*2\r\n" + bulk("8.8.8.8") + bulk("2001:db8::/64") + "*1\r\n" + bulk("US") +
                        "*0\r\n" + "*0\r\n";
    auto r = resp(intArray({1, 2, 1, 0, 0, 2, -1, -1, 1}, lists, 4));
    StoreResult out;
    std::string error;
    REQUIRE(parseStateReply(r.get(), true, out, error));
    CHECK(out.state.block == BlockState::Permanent);
    CHECK(out.state.ttlSeconds == -1);
    CHECK(out.newly);
    CHECK(out.state.foreignIpList == std::vector<std::string>{"8.8.8.8", "2001:db8::/64"});
    CHECK(out.state.foreignCountryList == std::vector<std::string>{"US"});
    CHECK(out.state.homeIpList.empty());
    CHECK(out.state.homeCountryList.empty());
}

TEST_CASE("not found")
{
    auto r = resp(intArray({0, 0, 0, 0, 0, 0, -1, -1, 0}));
    StoreResult out;
    std::string error;
    REQUIRE(parseStateReply(r.get(), false, out, error));
    CHECK_FALSE(out.found);
    CHECK(out.state.block == BlockState::None);
}

TEST_CASE("malformed script replies are errors, not garbage counts")
{
    StoreResult out;
    std::string error;
    CHECK_FALSE(parseStateReply(resp(":1\r\n").get(), false, out, error));
    CHECK(error.find("unexpected script reply") != std::string::npos);
    CHECK_FALSE(parseStateReply(resp(intArray({1, 2, 3})).get(), false, out, error));
    CHECK_FALSE(
        parseStateReply(resp(intArray({1, 0, 0, 0, 0, 7, -1, -1, 0})).get(), false, out, error));
    CHECK(error.find("block state 7") != std::string::npos);
    // Lists asked for but missing.
    CHECK_FALSE(
        parseStateReply(resp(intArray({1, 0, 0, 0, 0, 0, -1, -1, 0})).get(), true, out, error));
    // A string where a count belongs.
    auto bad = resp("*9\r\n" + bulk("x") + ":0\r\n:0\r\n:0\r\n:0\r\n:0\r\n:-1\r\n:-1\r\n:0\r\n");
    CHECK_FALSE(parseStateReply(bad.get(), false, out, error));
    CHECK(error.find("field 0") != std::string::npos);
    CHECK_FALSE(parseStateReply(nullptr, false, out, error));
}

TEST_CASE("error classes")
{
    CHECK(classifyError("NOSCRIPT No matching script. Please use EVAL.") == ErrorKind::NoScript);
    CHECK(classifyError("READONLY You can't write against a read only replica. script: ...") ==
          ErrorKind::ReadOnly);
    CHECK(classifyError("LOADING Redis is loading the dataset in memory") == ErrorKind::Busy);
    CHECK(classifyError("MASTERDOWN Link with MASTER is down") == ErrorKind::Busy);
    CHECK(classifyError("BUSY Redis is busy running a script.") == ErrorKind::Busy);
    CHECK(classifyError("WRONGTYPE Operation against a key holding the wrong kind of value") ==
          ErrorKind::Plain);
    CHECK(classifyError("GEOPOL_BADVALUE geopol_x does not hold a JSON object") ==
          ErrorKind::Plain);
    CHECK(classifyError("") == ErrorKind::Plain);
}

TEST_CASE("describe() shortens and names types")
{
    CHECK(describe(nullptr) == "no reply");
    CHECK(describe(resp("-ERR bad\r\n").get()) == "ERR bad");
    CHECK(describe(resp(":42\r\n").get()) == "42");
    CHECK(describe(resp("$-1\r\n").get()) == "nil");
    CHECK(describe(resp("*2\r\n:1\r\n:2\r\n").get()) == "array of 2");
    CHECK(describe(resp(bulk(std::string(300, 'x'))).get()).size() == 203);
}

TEST_CASE("SENTINEL get-master-addr-by-name")
{
    Endpoint e;
    std::string error;
    REQUIRE(parseMasterAddress(resp("*2\r\n" + bulk("127.0.0.1") + bulk("6380")).get(), e, error));
    CHECK(e == Endpoint{"127.0.0.1", 6380, false});
    CHECK_FALSE(parseMasterAddress(resp("*-1\r\n").get(), e, error));
    CHECK(error.find("does not know") != std::string::npos);
    CHECK_FALSE(parseMasterAddress(resp("$-1\r\n").get(), e, error));
    CHECK_FALSE(parseMasterAddress(resp("*2\r\n" + bulk("h") + bulk("0")).get(), e, error));
    CHECK_FALSE(parseMasterAddress(resp("*1\r\n" + bulk("h")).get(), e, error));
}

namespace {

std::string replicaEntry(std::string_view ip, std::string_view port, std::string_view flags,
                         std::string_view link)
{
    return "*10\r\n" + bulk("name") + bulk(std::string(ip) + ":" + std::string(port)) + bulk("ip") +
           bulk(ip) + bulk("port") + bulk(port) + bulk("flags") + bulk(flags) +
           bulk("master-link-status") + bulk(link);
}

}  // namespace

TEST_CASE("SENTINEL replicas: the first healthy replica")
{
    std::string wire = "*3\r\n" + replicaEntry("10.0.0.1", "6380", "slave,s_down", "err") +
                       replicaEntry("10.0.0.2", "6381", "slave", "err") +
                       replicaEntry("10.0.0.3", "6382", "slave", "ok");
    Endpoint e;
    REQUIRE(pickReplica(resp(wire).get(), e));
    CHECK(e == Endpoint{"10.0.0.3", 6382, false});
    CHECK_FALSE(pickReplica(resp("*0\r\n").get(), e));
    CHECK_FALSE(pickReplica(
        resp("*1\r\n" + replicaEntry("10.0.0.1", "6380", "slave,disconnected", "ok")).get(), e));
    CHECK_FALSE(pickReplica(resp("-ERR x\r\n").get(), e));
}

TEST_CASE("ROLE")
{
    CHECK(roleOf(resp("*3\r\n" + bulk("master") + ":0\r\n*0\r\n").get()) == "master");
    CHECK(roleOf(resp("*5\r\n" + bulk("slave") + bulk("127.0.0.1") + ":6379\r\n" +
                      bulk("connected") + ":10\r\n")
                     .get()) == "slave");
    CHECK(roleOf(resp("-NOPERM no\r\n").get()).empty());
    CHECK(roleOf(nullptr).empty());
}

TEST_CASE("+switch-master messages")
{
    std::string name;
    Endpoint to;
    REQUIRE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1 6380", name, to));
    CHECK(name == "mymaster");
    CHECK(to == Endpoint{"127.0.0.1", 6380, false});
    CHECK_FALSE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1", name, to));
    CHECK_FALSE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1 x", name, to));
    CHECK_FALSE(parseSwitchMaster("", name, to));
}
