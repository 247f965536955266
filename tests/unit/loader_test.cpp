// The module loader refuses what it must, each time with a message that
// names the file, the expectation and the fix.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "chain/chain.hpp"
#include "loader/module_loader.hpp"

using namespace geopol::core;
namespace fs = std::filesystem;

namespace {

std::string loadError(const std::string &dir, const std::string &name)
{
    ModuleLoader loader(dir);
    std::string error;
    auto m = loader.create(name, error);
    CHECK_FALSE(m);
    return error;
}

}  // namespace

TEST_CASE("a well-formed module loads and creates an instance")
{
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    std::string error;
    auto m = loader.create("test-reply", error);
    CHECK(m);
    CHECK(error.empty());
}

TEST_CASE("a missing module names the directory and the fix")
{
    auto e = loadError(GEOPOL_TEST_MODULE_DIR, "no-such-module");
    CHECK(e.find("no no-such-module.so in the module directory") != std::string::npos);
    CHECK(e.find("enabled: false") != std::string::npos);
}

TEST_CASE("module names with path characters are refused before touching the disk")
{
    CHECK(loadError(GEOPOL_TEST_MODULE_DIR, "../test-reply").find("not valid") !=
          std::string::npos);
    CHECK(loadError(GEOPOL_TEST_MODULE_DIR, "Test").find("not valid") != std::string::npos);
}

TEST_CASE("a shared object without the entry symbol is not a module")
{
    auto e = loadError(GEOPOL_TEST_MODULE_DIR, "broken-no-entry");
    CHECK(e.find("broken-no-entry.so: not a geopol module") != std::string::npos);
    CHECK(e.find("GEOPOL_MODULE") != std::string::npos);
}

TEST_CASE("a module built for another ABI is refused with both numbers")
{
    auto e = loadError(GEOPOL_TEST_MODULE_DIR, "broken-abi");
    CHECK(e.find("built for module ABI " + std::to_string(GEOPOL_MODULE_ABI + 1)) !=
          std::string::npos);
    CHECK(e.find("expects ABI " + std::to_string(GEOPOL_MODULE_ABI)) != std::string::npos);
}

TEST_CASE("a module built against other module headers is refused with both build tags")
{
    // The build tag ends in a digest of include/geopol/: a stale module whose
    // vtables no longer match would crash geopold instead.
    auto e = loadError(GEOPOL_TEST_MODULE_DIR, "broken-build");
    CHECK(e.find("built as '" GEOPOL_VERSION "/gcc-0.0.0/c++20/abi-00000000'") !=
          std::string::npos);
    CHECK(e.find("this geopold is '" GEOPOL_BUILD_TAG "'") != std::string::npos);
    CHECK(std::string(GEOPOL_BUILD_TAG).find("/abi-") != std::string::npos);
}

TEST_CASE("a module whose descriptor names another module is refused")
{
    auto e = loadError(GEOPOL_TEST_MODULE_DIR, "broken-name");
    CHECK(e.find("calls itself 'somebody-else'") != std::string::npos);
}

TEST_CASE("a module file writable by group or others is refused")
{
    fs::path dir = fs::temp_directory_path() / ("geopol-loader-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::copy_file(fs::path(GEOPOL_TEST_MODULE_DIR) / "test-reply.so", dir / "test-reply.so",
                  fs::copy_options::overwrite_existing);
    chmod((dir / "test-reply.so").c_str(), 0664);
    auto e = loadError(dir.string(), "test-reply");
    CHECK(e.find("writable by group or others (mode 0664)") != std::string::npos);
    CHECK(e.find("chmod go-w") != std::string::npos);
    chmod((dir / "test-reply.so").c_str(), 0644);
    ModuleLoader ok(dir.string());
    std::string error;
    CHECK(ok.create("test-reply", error));
    fs::remove_all(dir);
}

TEST_CASE("a configure() that throws or refuses stops the chain from being built")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    for (auto [how, expect] :
         {std::pair{"configure-throw", "configure() threw: configure exploded"},
          std::pair{"configure", "told to refuse the configuration"}}) {
        auto tree = ConfigTree::fromText(
            std::string("modules:\n  - name: test-reply\n    fail-in: ") + how + "\n", "t.yaml",
            ".");
        std::vector<std::string> errors;
        auto chain = Chain::build(tree, loader, &loop, "DEFER", errors);
        CHECK_FALSE(chain);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].find(expect) != std::string::npos);
    }
    uv_loop_close(&loop);
}

TEST_CASE("a failing start() stops the modules already started and reports the module")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    auto tree = ConfigTree::fromText(
        "modules:\n  - name: test-async\n  - name: test-reply\n    fail-in: start\n", "t.yaml",
        ".");
    std::vector<std::string> errors;
    auto chain = Chain::build(tree, loader, &loop, "DEFER", errors);
    REQUIRE(chain);
    CHECK_FALSE(chain->start(errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == "module 'test-reply': told to fail start()");
    CHECK_FALSE(chain->modules()[0]->started);
    chain.reset();
    uv_loop_close(&loop);
}

TEST_CASE("unknown keys in a module's section are refused")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    auto tree =
        ConfigTree::fromText("modules:\n  - name: test-reply\n    acton: DUNNO\n", "t.yaml", ".");
    std::vector<std::string> errors;
    CHECK_FALSE(Chain::build(tree, loader, &loop, "DEFER", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("t.yaml:3:5: test-reply: unknown key 'acton'") == 0);
    uv_loop_close(&loop);
}

TEST_CASE("a module starts after the provider of a service it needs, whatever the YAML order")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    // test-async stands in for a consumer listed first; test-reply provides.
    auto tree = ConfigTree::fromText(
        "modules:\n"
        "  - name: test-reply\n    needs: thing\n"
        "  - name: test-async\n",
        "t.yaml", ".");
    std::vector<std::string> errors;
    CHECK_FALSE(Chain::build(tree, loader, &loop, "DEFER", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] ==
          "module 'test-reply' needs the 'thing' service, which no enabled module provides; "
          "enable a module that provides it");

    errors.clear();
    auto ok = Chain::build(tree, loader, &loop, "DEFER", errors, {{"thing", &loop}});
    REQUIRE(ok);
    CHECK(ok->start(errors));
    ok.reset();
    uv_loop_close(&loop);
}

TEST_CASE("two providers of one service are refused")
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ModuleLoader loader(GEOPOL_TEST_MODULE_DIR);
    auto tree = ConfigTree::fromText(
        "modules:\n  - name: test-reply\n    provides: store\n"
        "  - name: test-async\n",
        "t.yaml", ".");
    std::vector<std::string> errors;
    CHECK(Chain::build(tree, loader, &loop, "DEFER", errors, {{"store", &loop}}) == nullptr);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("both provide the 'store' service") != std::string::npos);
    uv_loop_close(&loop);
}
