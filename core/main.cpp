// main.cpp - geopold: a Postfix policy server that catches compromised
// accounts by the countries and IP addresses they are used from.
#include "cli/command_line.hpp"
#include "daemon.hpp"

int main(int argc, char **argv)
{
    geopol::core::CommandLine cli;
    if (auto exitCode = geopol::core::parseCommandLine(argc, argv, cli))
        return *exitCode;
    if (cli.checkConfig)
        return geopol::core::Daemon::checkConfig(cli);
    geopol::core::Daemon daemon(std::move(cli));
    return daemon.run();
}
