// ignore_networks.cpp - see ignore_networks.hpp.
#include "ignore_networks.hpp"

namespace geopol::geoip {

bool IgnoreNetworks::add(std::string_view entry)
{
    auto network = IpNetwork::parse(entry);
    if (!network)
        return false;
    entries_.push_back(Entry{*network, std::string(entry)});
    return true;
}

const std::string *IgnoreNetworks::match(const IpAddress &addr) const
{
    // A linear scan: lists are a handful of entries, and most deployments have none.
    for (const Entry &e : entries_)
        if (e.network.contains(addr))
            return &e.text;
    return nullptr;
}

}  // namespace geopol::geoip
