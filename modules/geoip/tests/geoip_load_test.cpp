// geoip_load_test.cpp - the built geoip.so, loaded the way the core loads it,
// configured and fed requests through the Module interface.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "geopol/config.hpp"
#include "geopol/host.hpp"
#include "geopol/module.hpp"
#include "geopol/module_abi.h"
#include "geopol/request.hpp"
#include "test_data.hpp"
#include "tests/support/loaded_module.hpp"
#include "tests/support/module_fakes.hpp"

using geopol::AddressClass;
using geopol::Module;
using geopol::Request;
using geopol::Status;
using geopol::Step;
using geopol::geoip::test::cityDb;

namespace {

// Just enough of the core's ConfigSection: values as the YAML would give them.
class FakeConfig : public geopol::ConfigSection {
public:
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, std::vector<std::string>, std::less<>> lists;
    std::vector<std::string> errors;

    std::string_view name() const override { return "geoip"; }
    bool has(std::string_view key) const override
    {
        return values.count(key) != 0 || lists.count(key) != 0;
    }
    std::string getString(std::string_view key, std::string_view def) override
    {
        auto it = values.find(key);
        return it != values.end() ? it->second : std::string(def);
    }
    int64_t getInt(std::string_view, int64_t def, int64_t, int64_t) override { return def; }
    double getDouble(std::string_view, double def, double, double) override { return def; }
    bool getBool(std::string_view, bool def) override { return def; }
    std::vector<std::string> getStringList(std::string_view key) override
    {
        auto it = lists.find(key);
        return it != lists.end() ? it->second : std::vector<std::string>();
    }
    std::string getPath(std::string_view key, std::string_view def) override
    {
        return getString(key, def);
    }
    int64_t getDurationMs(std::string_view, int64_t defMs, int64_t, int64_t) override
    {
        return defMs;
    }
    std::string getJson(std::string_view) override { return {}; }
    void error(std::string_view key, std::string_view message) override
    {
        errors.push_back(std::string(key) + ": " + std::string(message));
    }
};

// A host whose logger writes "<level> <message>" lines into a string.
class FakeHost : public geopol::Host {
public:
    FakeHost()
        : logger_(std::make_shared<spdlog::logger>(
              "geoip", std::make_shared<spdlog::sinks::ostream_sink_st>(log_)))
    {
        logger_->set_pattern("%l %v");
        logger_->set_level(spdlog::level::trace);
    }

    // geoip's only handle is the refresh timer; the loop's destructor
    // fails the test if stop() left it open.
    uv_loop_t *loop() override { return loop_.get(); }
    std::shared_ptr<spdlog::logger> logger() override { return logger_; }
    void provide(std::string_view, void *) override {}
    void *find(std::string_view) override { return nullptr; }

    std::string log() const { return log_.str(); }

private:
    geopol::testing::Loop loop_;
    std::ostringstream log_;
    std::shared_ptr<spdlog::logger> logger_;
};

std::string modulePath()
{
    const char *dir = std::getenv("GEOPOL_MODULE_DIR");
    REQUIRE_MESSAGE(dir != nullptr, "GEOPOL_MODULE_DIR is not set; run the tests with meson test");
    return std::string(dir) + "/geoip/geoip.so";
}

// The module, opened as the core opens it.
struct LoadedModule : geopol::test::LoadedModule {
    LoadedModule() : geopol::test::LoadedModule(modulePath()) {}
};

// A request as the core hands it over: client_address parsed into facts.
void prepare(Request &req, std::string_view clientAddress)
{
    static uint64_t generation = 0;
    req.coreReset(++generation);
    req.coreAddAttribute("request", "smtpd_access_policy");
    req.coreAddAttribute("client_address", clientAddress);
    req.facts.clientAddress.assign(clientAddress);
    if (auto a = geopol::IpAddress::parse(clientAddress)) {
        req.facts.client = *a;
        req.facts.clientValid = true;
        req.facts.addressClass = a->classify();
    }
}

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

// A started module with the City database and `ignore` as ignore-networks.
struct Started {
    LoadedModule so;
    FakeHost host;
    std::unique_ptr<Module> module;

    explicit Started(std::vector<std::string> ignore = {})
    {
        module = so.create();
        FakeConfig cfg;
        cfg.values["database"] = cityDb();
        cfg.lists["ignore-networks"] = std::move(ignore);
        REQUIRE(module->configure(cfg));
        REQUIRE(cfg.errors.empty());
        Status s = module->start(host);
        REQUIRE_MESSAGE(s, s.message());
    }
    ~Started()
    {
        if (module)
            module->stop();
    }
};

}  // namespace

TEST_CASE("geoip.so exports a descriptor with this build's ABI, size, name and build tag")
{
    LoadedModule so;
    so.checkDescriptor("geoip");
    auto module = so.create();
    CHECK(module->handlesRequests());
    CHECK(module->provides().empty());
}

TEST_CASE("the module places a public client and lets the chain continue")
{
    Started m;
    Request req;
    prepare(req, "81.2.69.142");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.reply().empty());
    CHECK(req.facts.located);
    CHECK(req.facts.country == "GB");
    CHECK(req.facts.continent == "EU");
    CHECK(req.facts.hasLocation);

    prepare(req, "2a00:1450:4001:80b::200e");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.facts.country == "DE");
    CHECK(contains(m.host.log(), "info geoip.opened database=" + cityDb() +
                                     " type=GeoLite2-City built=2019-12-24"));
}

TEST_CASE("the module does not look up private, loopback, documentation, CGNAT or ULA clients")
{
    Started m;
    Request req;
    for (const char *client :
         {"10.0.0.1", "192.168.1.1", "172.16.0.1", "127.0.0.1", "::1", "169.254.1.1", "fe80::1",
          "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "100.64.0.1", "fd00::1",
          "::ffff:10.0.0.1", "unknown"}) {
        CAPTURE(client);
        prepare(req, client);
        CHECK(req.facts.addressClass != AddressClass::Public);
        CHECK(m.module->onRequest(req) == Step::Continue);
        CHECK(req.reply().empty());
        CHECK_FALSE(req.facts.located);
        CHECK(req.facts.country.empty());
        CHECK(contains(m.host.log(), std::string("debug geoip.not_looked_up client_address=") +
                                         client + " class="));
    }
}

TEST_CASE("a client in ignore-networks gets the reference's INFO reply and ends the chain")
{
    Started m({"192.0.2.0/24", "10.0.0.0/8", "2001:db8::/32", "8.8.8.8"});
    Request req;

    prepare(req, "192.0.2.55");
    CHECK(m.module->onRequest(req) == Step::Done);
    CHECK(req.reply() == "INFO Client IP address 192.0.2.55 is defined in ignore-networks");
    CHECK_FALSE(req.facts.located);
    CHECK(contains(m.host.log(),
                   "info geoip.ignored client_address=192.0.2.55 matched ignore-networks entry "
                   "192.0.2.0/24"));

    // The address is echoed as received, here in its v4-mapped spelling.
    prepare(req, "::ffff:10.9.8.7");
    CHECK(m.module->onRequest(req) == Step::Done);
    CHECK(req.reply() == "INFO Client IP address ::ffff:10.9.8.7 is defined in ignore-networks");

    prepare(req, "2001:db8:ffff::1");
    CHECK(m.module->onRequest(req) == Step::Done);

    // A single public address, matched before it would have been looked up.
    prepare(req, "8.8.8.8");
    CHECK(m.module->onRequest(req) == Step::Done);
    CHECK_FALSE(req.facts.located);

    prepare(req, "8.8.4.4");
    CHECK(m.module->onRequest(req) == Step::Continue);
    CHECK(req.reply().empty());
    CHECK(req.facts.country == "US");
}

TEST_CASE("an invalid ignore-networks entry is a configuration error naming the entry")
{
    LoadedModule so;
    auto module = so.create();
    FakeConfig cfg;
    cfg.lists["ignore-networks"] = {"192.0.2.0/24", "10.0.0.0/33", "2001:db8::/32",
                                    "mail.example.com", ""};
    module->configure(cfg);
    REQUIRE(cfg.errors.size() == 3);
    CHECK(contains(cfg.errors[0], "ignore-networks: \"10.0.0.0/33\" is neither"));
    CHECK(contains(cfg.errors[1], "ignore-networks: \"mail.example.com\" is neither"));
    CHECK(contains(cfg.errors[2], "ignore-networks: \"\" is neither"));
}

TEST_CASE("the database defaults to the reference's path")
{
    LoadedModule so;
    auto module = so.create();
    FakeConfig cfg;
    REQUIRE(module->configure(cfg));
    CHECK(cfg.errors.empty());
    FakeHost host;
    Status s = module->start(host);
    // Whether or not this machine has the file, that is the path tried.
    if (s)
        CHECK(contains(host.log(), "database=/usr/share/GeoIP/GeoLite2-City.mmdb "));
    else
        CHECK(contains(s.message(), "/usr/share/GeoIP/GeoLite2-City.mmdb"));
    module->stop();
}

TEST_CASE("a missing database fails start() with the path and the fix, and stop() is still safe")
{
    LoadedModule so;
    auto module = so.create();
    FakeConfig cfg;
    cfg.values["database"] = "/nonexistent/GeoLite2-City.mmdb";
    REQUIRE(module->configure(cfg));  // no I/O at configure time
    CHECK(cfg.errors.empty());
    FakeHost host;
    Status s = module->start(host);
    REQUIRE_FALSE(s);
    CHECK(contains(s.message(), "/nonexistent/GeoLite2-City.mmdb"));
    CHECK(contains(s.message(), "scripts/setup"));
    module->stop();
    module->stop();
}

TEST_CASE("a module that was never started can be stopped and destroyed")
{
    LoadedModule so;
    so.create()->stop();
    so.create();  // destroyed unconfigured
}
