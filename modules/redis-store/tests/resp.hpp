// resp.hpp - hiredis replies from RESP text, for tests of reply parsing.
#pragma once

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>

namespace geopol::testing {

struct ReplyFree {
    void operator()(redisReply *r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

/// Decodes one reply, as hiredis would from the wire.
inline ReplyPtr resp(std::string_view wire)
{
    redisReader *reader = redisReaderCreate();
    REQUIRE(redisReaderFeed(reader, wire.data(), wire.size()) == REDIS_OK);
    void *reply = nullptr;
    REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
    redisReaderFree(reader);
    REQUIRE(reply != nullptr);
    return ReplyPtr(static_cast<redisReply *>(reply));
}

/// RESP for an array of integers followed by raw RESP elements.
inline std::string intArray(std::initializer_list<long long> ints, std::string_view tail = {},
                            size_t tailCount = 0)
{
    std::string s = "*" + std::to_string(ints.size() + tailCount) + "\r\n";
    for (long long i : ints)
        s += ":" + std::to_string(i) + "\r\n";
    s += tail;
    return s;
}

inline std::string bulk(std::string_view v)
{
    return "$" + std::to_string(v.size()) + "\r\n" + std::string(v) + "\r\n";
}

}  // namespace geopol::testing
