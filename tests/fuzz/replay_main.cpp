// replay_main.cpp - runs a fuzz target over files, without libFuzzer.
//
// Each argument is a file or a folder of files (the corpus, the regressions);
// every file is one input to LLVMFuzzerTestOneInput. A target's invariants
// abort on failure, so a crash that was once found and kept under
// regressions/ fails `meson test` in every build, sanitizers or not.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

namespace fs = std::filesystem;

int main(int argc, char **argv)
{
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        fs::path p = argv[i];
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            for (const auto &e : fs::directory_iterator(p))
                if (e.is_regular_file() && e.path().filename().string()[0] != '.')
                    files.push_back(e.path());
        } else if (fs::exists(p, ec)) {
            files.push_back(p);
        }
        // A folder that does not exist yet (no regression so far) is fine.
    }
    std::sort(files.begin(), files.end());  // a stable order, for the log
    if (files.empty()) {
        std::fprintf(stderr, "no input files: a target needs at least a seed corpus\n");
        return 1;
    }
    for (const auto &f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "cannot read %s\n", f.c_str());
            return 1;
        }
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::printf("%s (%zu bytes)\n", f.c_str(), data.size());
        std::fflush(stdout);  // the file that aborts is the last one named
        LLVMFuzzerTestOneInput(reinterpret_cast<const unsigned char *>(data.data()), data.size());
    }
    std::printf("%zu inputs replayed\n", files.size());
    return 0;
}
