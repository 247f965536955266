// broken-name: its descriptor names another module than its file.
#include "geopol/module.hpp"
#include "geopol/request.hpp"

namespace {
class Nameless : public geopol::Module {
public:
    geopol::Status configure(geopol::ConfigSection &) override { return geopol::Status::ok(); }
    geopol::Status start(geopol::Host &) override { return geopol::Status::ok(); }
};
}  // namespace

GEOPOL_MODULE("somebody-else", Nameless)
