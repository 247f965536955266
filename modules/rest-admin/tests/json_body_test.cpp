// json_body_test.cpp - the JSON body rules shared by every endpoint.
#include <doctest/doctest.h>

#include "geopol/admin_json.hpp"

using namespace geopol;

namespace {

AdminRequest post(std::string body, std::string contentType = "application/json")
{
    AdminRequest r;
    r.method = "POST";
    r.path = "/remove";
    r.contentType = std::move(contentType);
    r.body = std::move(body);
    return r;
}

}  // namespace

TEST_CASE("the first JSON value ends at its matching bracket, outside strings")
{
    CHECK(firstJsonValueLength(R"({"a":1})") == 7);
    CHECK(firstJsonValueLength(R"(  {"a":"}"}"trailing)") == 11);
    CHECK(firstJsonValueLength(R"({"a":"\"}"}x)") == 11);
    CHECK(firstJsonValueLength(R"([1,[2]],3)") == 7);
    CHECK(firstJsonValueLength("42") == 2);
    CHECK(firstJsonValueLength(R"({"a":)") == 5);  // unterminated: all of it, the parser complains
}

TEST_CASE("a JSON body is parsed; text after the value is ignored, as Go's decoder did")
{
    nlohmann::json doc;
    std::string error;
    bool trailing = true;
    REQUIRE(parseJsonBody(post(R"({"key":"sender","value":"a@b"})"), doc, error, &trailing));
    CHECK(doc["value"] == "a@b");
    CHECK_FALSE(trailing);
    // The reference README's HTTPS DELETE example ends in a stray quote.
    REQUIRE(parseJsonBody(post(R"({"key":"sender","value":"christian@roessner.email"}")"), doc,
                          error, &trailing));
    CHECK(trailing);
    CHECK(doc["key"] == "sender");
}

TEST_CASE("Content-Type must be application/json; parameters and case do not matter")
{
    nlohmann::json doc;
    std::string error;
    CHECK(parseJsonBody(post("{}", "Application/JSON; charset=utf-8"), doc, error));
    CHECK_FALSE(parseJsonBody(post("{}", "text/plain"), doc, error));
    CHECK(error == "Content-Type must be application/json, not \"text/plain\"");
    CHECK_FALSE(parseJsonBody(post("{}", ""), doc, error));
    CHECK(error == "Content-Type must be application/json, not missing");
    CHECK_FALSE(parseJsonBody(post("{}", "application/x-www-form-urlencoded"), doc, error));
}

TEST_CASE("an empty body and broken JSON are refused with the parser's reason")
{
    nlohmann::json doc;
    std::string error;
    CHECK_FALSE(parseJsonBody(post(""), doc, error));
    CHECK(error.find("empty") != std::string::npos);
    CHECK_FALSE(parseJsonBody(post("  \n"), doc, error));
    // The reference README's HTTPS POST /remove example: the object never closes.
    CHECK_FALSE(parseJsonBody(post(R"({"key":"sender","value":"user@example.com}")"), doc, error));
    CHECK(error.rfind("the body is not valid JSON: ", 0) == 0);
    CHECK(error.find("[json.exception") == std::string::npos);
}

TEST_CASE("unknown keys are named; wrong types are described")
{
    auto obj = nlohmann::json::parse(R"({"key":1,"value":2,"extra":3})");
    CHECK(unknownKey(obj, {"key", "value"}) == "extra");
    CHECK(unknownKey(obj, {"key", "value", "extra"}).empty());
    CHECK(describeJson(nlohmann::json(5)) == "number 5");
    CHECK(describeJson(nlohmann::json("x")) == "string \"x\"");
    CHECK(describeJson(nlohmann::json::parse("[[1]]")) == "array");  // containers: type only
    auto bad = badRequest("no \"x\"");
    CHECK(bad.status == 400);
    CHECK(bad.body == R"({"error":"no \"x\""})");
}

TEST_CASE("a deeply nested body is refused before it is parsed")
{
    nlohmann::json doc;
    std::string error;
    std::string deep = std::string(30000, '[') + std::string(30000, ']');
    CHECK_FALSE(parseJsonBody(post(deep), doc, error));
    CHECK(error == "the JSON is nested more than 32 levels deep");
    CHECK(jsonNestingDepth(R"({"a":[{"b":"[[[["}]})") == 3);  // brackets in strings do not count
    std::string ok = std::string(32, '[') + std::string(32, ']');
    CHECK(parseJsonBody(post(ok), doc, error));
}
