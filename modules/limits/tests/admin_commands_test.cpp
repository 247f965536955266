// admin_commands_test.cpp - the limits module's admin commands: the custom
// settings edits (PUT/PATCH/DELETE), their atomic persistence, unlock and
// account inspection, against a fake store and a fake admin table.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "custom_settings_edit.hpp"
#include "fakes.hpp"
#include "geopol/account_resolver.hpp"
#include "geopol/admin.hpp"
#include "limits.hpp"
#include "settings_file.hpp"

using namespace geopol;
using namespace geopol::limits;
using nlohmann::json;

namespace {

// The core's routing, reduced to what the tests need: exact paths and one prefix.
class FakeAdmin : public AdminCommands {
public:
    std::map<std::pair<std::string, std::string>, AdminHandler> routes;

    void add(std::string method, std::string path, AdminHandler h) override
    {
        routes[{std::move(method), std::move(path)}] = std::move(h);
    }
    void dispatch(const AdminRequest &req, AdminReply reply) override
    {
        auto it = routes.find({req.method, req.path});
        if (it == routes.end() && req.path.rfind("/account/", 0) == 0)
            it = routes.find({req.method, "/account/"});
        REQUIRE(it != routes.end());
        it->second(req, std::move(reply));
    }
};

using testing::TempDir;

std::string readFile(const std::string &path)
{
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const char *kFile = R"({"data":[
 {"comment":"first","sender":"christian@roessner.email","ips":5,"countries":2},
 {"sender":"test1@example.com","countries":4,"home_countries":{"codes":["DE"],"ips":7}},
 {"sender":"test2@example.com","ips":30}
]})";

struct Harness {
    testing::FakeConfig cfg;
    testing::FakeStore store;
    testing::FakeHost host;
    FakeAdmin admin;
    LimitsModule module;

    Harness()
    {
        host.provide("store", static_cast<Store *>(&store));
        host.provide("admin", static_cast<AdminCommands *>(&admin));
    }
    void start()
    {
        REQUIRE(module.configure(cfg));
        REQUIRE_MESSAGE(cfg.errors.empty(), cfg.errorText());
        REQUIRE(module.start(host));
    }
    AdminResponse call(std::string method, std::string path, std::string body = "",
                       std::string contentType = "application/json")
    {
        AdminRequest req{std::move(method),      std::move(path), "",
                         std::move(contentType), std::move(body), "127.0.0.1:1"};
        AdminResponse out{0, "", ""};
        admin.dispatch(req, [&](AdminResponse r) { out = std::move(r); });
        REQUIRE(out.status != 0);
        return out;
    }
    std::vector<std::string> senders()
    {
        std::vector<std::string> out;
        for (const auto &e : module.customSettings()->entries())
            out.push_back(e.sender);
        return out;
    }
};

}  // namespace

TEST_CASE(
    "GET /custom-settings: 204 when none are loaded, else the entries in the reference's shape")
{
    Harness none;
    none.start();
    CHECK(none.call("GET", "/custom-settings").status == 204);

    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    AdminResponse r = h.call("GET", "/custom-settings");
    CHECK(r.status == 200);
    CHECK(r.contentType == "application/json");
    CHECK(r.body.back() == '\n');
    auto list = nlohmann::ordered_json::parse(r.body);
    REQUIRE(list.size() == 3);
    CHECK(list[0].dump() ==
          R"({"comment":"first","sender":"christian@roessner.email","ips":5,"countries":2,)"
          R"("trusted_countries":null,"trusted_ips":null,"home_countries":null})");
}

TEST_CASE("PATCH merges into the first entry for the sender and keeps the other fields")
{
    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    // The README's example.
    AdminResponse r = h.call(
        "PATCH", "/modify",
        R"({"key":"sender","value":{"comment":"Test","sender":"christian@roessner.email","ips":100,"countries":100}})");
    CHECK(r.status == 202);
    CHECK(r.body.empty());
    const CustomEntry *e = h.module.customSettings()->find("christian@roessner.email");
    REQUIRE(e);
    CHECK(e->comment == "Test");
    CHECK(e->ips == 100);
    CHECK(e->countries == 100);

    SUBCASE("case-insensitive match keeps the stored spelling; home countries merge")
    {
        REQUIRE(
            h.call(
                 "PATCH", "/modify",
                 R"({"key":"sender","value":{"sender":"TEST1@example.com","home_countries":{"countries":2}}})")
                .status == 202);
        const CustomEntry *t = h.module.customSettings()->find("test1@example.com");
        REQUIRE(t);
        CHECK(t->sender == "test1@example.com");
        CHECK(t->countries == 4);  // untouched
        REQUIRE(t->home);
        CHECK(t->home->codes == std::vector<std::string>{"DE"});  // kept
        CHECK(t->home->ips == 7);                                 // kept
        CHECK(t->home->countries == 2);                           // changed
    }
    SUBCASE("null resets a field")
    {
        REQUIRE(
            h.call(
                 "PATCH", "/modify",
                 R"({"key":"sender","value":{"sender":"test1@example.com","home_countries":null,"countries":null}})")
                .status == 202);
        const CustomEntry *t = h.module.customSettings()->find("test1@example.com");
        CHECK_FALSE(t->home);
        CHECK(t->countries == 0);
    }
    SUBCASE("an unknown sender is appended, home countries included")
    {
        REQUIRE(
            h.call(
                 "PATCH", "/modify",
                 R"({"key":"sender","value":{"sender":"new@example.com","ips":3,"home_countries":{"codes":["de","at"],"ips":4,"countries":2}}})")
                .status == 202);
        CHECK(h.senders() == std::vector<std::string>{"christian@roessner.email",
                                                      "test1@example.com", "test2@example.com",
                                                      "new@example.com"});
        const CustomEntry *n = h.module.customSettings()->find("new@example.com");
        REQUIRE(n->home);
        CHECK(n->home->codes == std::vector<std::string>{"DE", "AT"});
    }
}

TEST_CASE("a bad PATCH changes nothing, in memory or on disk, and says what is wrong")
{
    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    auto before = h.module.customSettings();
    std::string disk = readFile(file.path);
    auto refused = [&](const std::string &body, const std::string &fragment) {
        AdminResponse r = h.call("PATCH", "/modify", body);
        CHECK(r.status == 400);
        CHECK_MESSAGE(r.body.find(fragment) != std::string::npos, r.body);
        CHECK(h.module.customSettings() == before);
        CHECK(readFile(file.path) == disk);
    };
    refused(R"({"key":"sender","value":{"sender":"a@b","ips":"3"}})", "must be a whole number");
    refused(R"({"key":"sender","value":{"sender":"a@b","ips":-1}})", "must be 0 or more");
    refused(R"({"key":"sender","value":{"sender":"a@b","ip":3}})", "unknown key \\\"ip\\\"");
    refused(R"({"key":"sender","value":{"sender":"a@b","home_countries":{"code":["DE"]}}})",
            "home_countries.code");
    refused(R"({"key":"sender","value":{"sender":"a@b","trusted_ips":["10.0.0.0/33"]}})",
            "is not an IP address or CIDR network");
    refused(R"({"key":"sender","value":{"ips":3}})", "missing \\\"value.sender\\\"");
    refused(R"({"key":"sender","value":{"sender":"a@b"}})", "nothing to change");
    refused(R"({"key":"account","value":{"sender":"a@b","ips":1}})", "\\\"key\\\" must be");
    refused(R"({"key":"sender","value":"a@b"})", "must be an entry object");
    refused(R"({"key":"sender"})", "missing \\\"value\\\"");
    refused(R"(not json)", "not valid JSON");
    AdminResponse ct = h.call("PATCH", "/modify", R"({})", "text/plain");
    CHECK(ct.status == 400);
    CHECK(ct.body.find("Content-Type must be application/json") != std::string::npos);
}

TEST_CASE("DELETE removes the sender's entries and keeps the order of the rest")
{
    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    // The README's example (its HTTPS variant ends in a stray quote, which is ignored).
    AdminResponse r =
        h.call("DELETE", "/remove", R"({"key":"sender","value":"christian@roessner.email"}")");
    CHECK(r.status == 202);
    CHECK(h.senders() == std::vector<std::string>{"test1@example.com", "test2@example.com"});
    CHECK(h.call("DELETE", "/remove", R"({"key":"sender","value":"christian@roessner.email"})")
              .status == 404);
    CHECK(h.call("DELETE", "/remove", R"({"key":"sender","value":5})").status == 400);
    CHECK(h.call("DELETE", "/remove", R"({"key":"sender","value":""})").status == 400);
}

TEST_CASE("DELETE of a duplicated sender removes every copy, so none comes back to life")
{
    auto cur = CustomSettings::parse(
        R"({"data":[{"sender":"a@x","ips":1},{"sender":"b@x","ips":2},{"sender":"A@X","ips":3},{"sender":"c@x","ips":4}]})",
        "t");
    REQUIRE(cur.settings);
    EditResult r = removeEntry(*cur.settings, json::parse(R"({"key":"sender","value":"a@x"})"));
    REQUIRE(r.settings);
    REQUIRE(r.settings->entries().size() == 2);
    CHECK(r.settings->entries()[0].sender == "b@x");
    CHECK(r.settings->entries()[1].sender == "c@x");
}

TEST_CASE("PUT replaces everything, refuses unknown keys and duplicates, and needs \"data\"")
{
    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    // The README's example.
    AdminResponse r = h.call(
        "PUT", "/update",
        R"({"data":[{ "sender":"christian@roessner.email","ips":3,"countries":1},{"sender":"test1@example.com","countries":1},{"sender":"test2@example.com","ips":20}]})");
    CHECK(r.status == 202);
    CHECK(h.module.customSettings()->find("test2@example.com")->ips == 20);
    CHECK(h.module.customSettings()->find("test1@example.com")->home == std::nullopt);

    auto before = h.module.customSettings();
    CHECK(h.call("PUT", "/update", R"({})").status == 400);
    CHECK(h.call("PUT", "/update", R"({"data":{}})").status == 400);
    CHECK(h.call("PUT", "/update", R"({"data":[],"extra":1})").status == 400);
    CHECK(h.call("PUT", "/update", R"({"data":[{"sender":"a@b","countrys":1}]})").status == 400);
    CHECK(h.call("PUT", "/update", R"({"data":[{"sender":"a@b"},{"sender":"A@b"}]})").status ==
          400);
    CHECK(h.module.customSettings() == before);

    CHECK(h.call("PUT", "/update", R"({"data":[]})").status == 202);
    CHECK(h.module.customSettings()->entries().empty());
    CHECK(h.call("GET", "/custom-settings").body == "[]\n");
}

TEST_CASE("a refused edit answers JSON even when its message quotes bytes that are not UTF-8")
{
    // Found by tests/fuzz/admin_body: the Content-Type and the JSON parser's
    // "last read" text are the client's bytes, and were copied into the
    // error body as they came.
    Harness h;
    h.start();
    for (auto [body, type] :
         {std::pair<std::string, std::string>{R"({"data":[]})", "text/\xff"},
          {"{\"data\":[{\"sender\":\"us\xe9r\"}]}", "application/json"},
          {"{\"key\":\"sender\",\"value\":\"\xc0\xaf\"}", "application/json"}}) {
        for (const char *method : {"PUT", "PATCH", "DELETE", "POST"}) {
            std::string path = std::string(method) == "PUT"     ? "/update"
                               : std::string(method) == "PATCH" ? "/modify"
                                                                : "/remove";
            AdminResponse r = h.call(method, path, body, type);
            CHECK(r.status == 400);
            auto parsed = json::parse(r.body, nullptr, false);  // strict UTF-8
            REQUIRE_FALSE(parsed.is_discarded());
            CHECK(parsed["error"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
        }
    }
    CHECK(h.senders().empty());
}

TEST_CASE("changes are written to the custom settings file atomically and survive a reload")
{
    TempDir dir;
    std::string path = dir.path + "/custom.json";
    std::ofstream(path) << kFile;
    REQUIRE(chmod(path.c_str(), 0604) == 0);
    {
        Harness h;
        h.cfg.set("custom-settings", path);
        h.start();
        REQUIRE(h.call("PATCH", "/modify",
                       R"({"key":"sender","value":{"sender":"test2@example.com","ips":31}})")
                    .status == 202);
        REQUIRE(
            h.call("DELETE", "/remove", R"({"key":"sender","value":"test1@example.com"})").status ==
            202);
    }
    // Only the file is left in the folder: the temp file was renamed over it.
    size_t files = 0;
    for (const auto &e : std::filesystem::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0604);  // the file's mode is kept
    // What a reload (a fresh configure) reads back.
    Harness reloaded;
    reloaded.cfg.set("custom-settings", path);
    reloaded.start();
    CHECK(reloaded.senders() ==
          std::vector<std::string>{"christian@roessner.email", "test2@example.com"});
    CHECK(reloaded.module.customSettings()->find("test2@example.com")->ips == 31);
    CHECK(reloaded.module.customSettings()->find("christian@roessner.email")->comment == "first");
}

TEST_CASE("a change that cannot be written is refused with 500 and changes nothing")
{
    if (geteuid() == 0) {
        // root writes anywhere; a folder that vanished fails for root too.
    }
    TempDir dir;
    std::string path = dir.path + "/sub/custom.json";
    std::filesystem::create_directory(dir.path + "/sub");
    std::ofstream(path) << kFile;
    Harness h;
    h.cfg.set("custom-settings", path);
    h.start();
    auto before = h.module.customSettings();
    std::filesystem::remove_all(dir.path + "/sub");  // no folder to write the temp file in
    AdminResponse r = h.call("PATCH", "/modify",
                             R"({"key":"sender","value":{"sender":"test2@example.com","ips":1}})");
    CHECK(r.status == 500);
    CHECK(r.body.find("cannot write the custom settings file") != std::string::npos);
    CHECK(r.body.find("nothing changed") != std::string::npos);
    CHECK(h.module.customSettings() == before);
}

TEST_CASE("the atomic writer replaces the content and leaves no temporary file")
{
    TempDir dir;
    std::string path = dir.path + "/f.json";
    REQUIRE(writeFileAtomically(path, "one"));
    REQUIRE(writeFileAtomically(path, "two"));
    CHECK(readFile(path) == "two");
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);  // new files are not world-readable
    CHECK_FALSE(writeFileAtomically(dir.path + "/missing/f.json", "x"));
}

TEST_CASE("without a file, admin changes stay in memory and a reload keeps them")
{
    {
        Harness h;
        h.start();
        REQUIRE(
            h.call("PUT", "/update", R"({"data":[{"sender":"mem@example.com","ips":2}]})").status ==
            202);
    }
    Harness reloaded;
    reloaded.start();
    REQUIRE(reloaded.module.customSettings()->find("mem@example.com"));
    CHECK(reloaded.call("GET", "/custom-settings").status == 200);
    // Leave no state behind for other tests.
    CHECK(reloaded.call("PUT", "/update", R"({"data":[]})").status == 202);
}

TEST_CASE("POST /remove unlocks the lower-cased account in the store")
{
    Harness h;
    h.start();
    h.store.accounts["user@example.com"].block = BlockState::Temporary;
    h.store.accounts["user@example.com"].foreignIps = {"8.8.8.8"};
    AdminResponse r = h.call("POST", "/remove", R"({"key":"sender","value":"User@Example.com"})");
    CHECK(r.status == 202);
    CHECK(r.body.empty());
    CHECK(h.store.accounts.count("user@example.com") == 0);
    // Unknown accounts are fine (the reference said 202 too).
    CHECK(h.call("POST", "/remove", R"({"key":"sender","value":"nobody@example.com"})").status ==
          202);
    CHECK(h.call("POST", "/remove", R"({"key":"sender","value":["x"]})").status == 400);
    CHECK(h.call("POST", "/remove", R"({"key":"client","value":"x"})").status == 400);
    // The README's HTTPS example is broken JSON (the object never closes).
    AdminResponse broken =
        h.call("POST", "/remove", R"({"key":"sender","value":"user@example.com}")");
    CHECK(broken.status == 400);
    CHECK(broken.body.find("not valid JSON") != std::string::npos);
}

namespace {

class FakeResolver : public AccountResolver {
public:
    bool fail = false;
    void resolve(std::string_view identity,
                 std::function<void(bool, std::string, std::string)> done) override
    {
        if (fail)
            return done(false, "", "ldap: timeout");
        done(true, identity == "alias@example.com" ? "owner@example.com" : lowerAscii(identity),
             "");
    }
};

}  // namespace

TEST_CASE("unlock goes through the account-resolver when a module provides one")
{
    Harness h;
    FakeResolver resolver;
    h.host.provide("account-resolver", static_cast<AccountResolver *>(&resolver));
    h.start();
    h.store.accounts["owner@example.com"].block = BlockState::Permanent;
    CHECK(h.call("POST", "/remove", R"({"key":"sender","value":"alias@example.com"})").status ==
          202);
    CHECK(h.store.accounts.count("owner@example.com") == 0);
    resolver.fail = true;
    AdminResponse r = h.call("POST", "/remove", R"({"key":"sender","value":"alias@example.com"})");
    CHECK(r.status == 503);
    CHECK(r.body.find("ldap: timeout") != std::string::npos);
}

TEST_CASE("a store failure on unlock is a 503, not the reference's 202")
{
    Harness h;
    h.start();
    struct FailingStore : testing::FakeStore {
        void unlock(std::string_view, StoreDone done) override
        {
            StoreResult r;
            r.ok = false;
            r.error = "redis: timeout after 500 ms";
            done(r);
        }
    } failing;
    h.host.provide("store", static_cast<Store *>(&failing));
    Harness h2;
    h2.host.provide("store", static_cast<Store *>(&failing));
    h2.start();
    AdminResponse r = h2.call("POST", "/remove", R"({"key":"sender","value":"a@b.c"})");
    CHECK(r.status == 503);
    CHECK(r.body.find("redis: timeout") != std::string::npos);
}

TEST_CASE("GET /account/<name> shows IPs, countries, block state, TTL and effective limits")
{
    testing::TempFile file(kFile);
    Harness h;
    h.cfg.set("custom-settings", file.path);
    h.start();
    auto &a = h.store.accounts["christian@roessner.email"];
    a.foreignIps = {"8.8.8.8", "81.2.69.142"};
    a.foreignCountries = {"GB", "US"};
    a.block = BlockState::Temporary;
    AdminResponse r = h.call("GET", "/account/Christian@Roessner.email");
    CHECK(r.status == 200);
    json j = json::parse(r.body);
    CHECK(j["account"] == "christian@roessner.email");
    CHECK(j["identity"] == "Christian@Roessner.email");
    CHECK(j["blocked"] == true);
    CHECK(j["block"] == "temporary");
    CHECK(j["foreign_ips"] == json::array({"8.8.8.8", "81.2.69.142"}));
    CHECK(j["counts"]["countries"] == 2);
    CHECK(j["limits"]["max_ips"] == 5);  // from the custom entry
    CHECK(j["limits"]["max_countries"] == 2);
    CHECK(j["custom_entry"] == "christian@roessner.email");
    CHECK(j.contains("ttl_seconds"));

    AdminResponse missing = h.call("GET", "/account/nobody@example.com");
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body)["account"] == "nobody@example.com");
}
