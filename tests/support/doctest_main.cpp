// The one main() of every doctest unit-test executable.
//
// SIGPIPE is ignored, as geopold ignores it (core/daemon.cpp): libraries the
// modules use write to sockets without MSG_NOSIGNAL (libldap's unbind on a
// connection the test server has already reset, for one), and that must be
// an EPIPE for the code under test, not the end of the test process.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    doctest::Context context(argc, argv);
    return context.run();
}
