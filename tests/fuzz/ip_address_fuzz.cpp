// Fuzz target: IP address and network parsing (include/geopol/ip_address.hpp),
// which sees client_address from every request and trusted networks from
// the configuration and the custom settings.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "geopol/ip_address.hpp"
#include "knobs.hpp"

using geopol::AddressClass;
using geopol::IpAddress;
using geopol::IpNetwork;

namespace {

void checkAddress(const IpAddress &a, int prefix)
{
    // The canonical text is an address again, and the same one.
    const std::string text = a.toString();
    auto again = IpAddress::parse(text);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == a);
    FUZZ_CHECK(again->toString() == text);
    FUZZ_CHECK(IpAddress::parse("[" + text + "]") == again);

    AddressClass c = a.classify();
    FUZZ_CHECK(c != AddressClass::Invalid);
    FUZZ_CHECK(std::string(geopol::addressClassName(c)) != "invalid");

    // An address is in its own network, at every prefix length.
    const std::string key = a.countingKey(prefix);
    FUZZ_CHECK(!key.empty());
    if (a.isV4() || prefix >= 128) {
        FUZZ_CHECK(key == text);
    } else {
        auto net = IpNetwork::parse(key);
        FUZZ_CHECK(net.has_value());
        FUZZ_CHECK(net->contains(a));
    }
    auto self = IpNetwork::parse(text);
    FUZZ_CHECK(self && self->contains(a));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text(reinterpret_cast<const char *>(data), size);
    geopol::fuzz::Knobs knobs(data, size);
    int prefix = static_cast<int>(knobs.range(0, 128));

    // The input as an address, as a network, and each line as either: a
    // seed file is a list of addresses, one a line.
    auto one = [&](std::string_view t) {
        if (auto a = IpAddress::parse(t)) {
            // All of the text is the address: nothing may hide after a NUL.
            FUZZ_CHECK(t.find('\0') == std::string_view::npos);
            checkAddress(*a, prefix);
        }
        if (auto net = IpNetwork::parse(t)) {
            FUZZ_CHECK(t.find('\0') == std::string_view::npos);
            auto slash = t.find('/');
            auto base = IpAddress::parse(t.substr(0, slash));
            FUZZ_CHECK(base.has_value());  // a network's address part is an address
            FUZZ_CHECK(net->contains(*base));
        }
    };
    one(text);
    for (size_t start = 0; start < text.size();) {
        size_t nl = text.find('\n', start);
        size_t end = nl == std::string_view::npos ? text.size() : nl;
        one(text.substr(start, end - start));
        start = end + 1;
    }
    return 0;
}
