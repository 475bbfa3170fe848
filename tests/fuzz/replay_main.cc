// Replays fuzz inputs without libFuzzer: the main() of the fuzz targets in the normal build (see
// tests/fuzz/CMakeLists.txt), so that CTest runs every seed (and every reproducer added to the
// corpus) with the compiler and sanitizers of that build.
//
//   nexure-fuzz-parser tests/fuzz/corpus/parser [more directories or files...]
//
// Directories are read recursively; files run in sorted order, each once. Each file's name is
// printed before it runs, so the input that made the target abort is the last one named. Fails
// when an argument cannot be read or names no input at all (a wrong path must not pass).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Appends the regular files under `arg` (or `arg` itself) to `out`; false if it cannot be read.
bool collect(const fs::path& arg, std::vector<fs::path>* out) {
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) {
        out->push_back(arg);
        return true;
    }
    if (!fs::is_directory(arg, ec)) return false;
    fs::recursive_directory_iterator it(arg, ec);
    if (ec) return false;
    std::vector<fs::path> found;
    for (const fs::directory_entry& entry : it) {
        if (entry.is_regular_file(ec)) found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
    return true;
}

bool read_file(const fs::path& path, std::vector<uint8_t>* bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    bytes->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        if (!collect(argv[i], &inputs)) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
            return 1;
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    std::vector<uint8_t> bytes;
    size_t total = 0;
    for (const fs::path& path : inputs) {
        if (!read_file(path, &bytes)) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], path.c_str());
            return 1;
        }
        std::printf("replaying %s (%zu bytes)\n", path.c_str(), bytes.size());
        std::fflush(stdout);
        // A copy of exactly the file's size, so that AddressSanitizer sees a read past its end.
        std::vector<uint8_t> input(bytes.begin(), bytes.end());
        LLVMFuzzerTestOneInput(input.data(), input.size());
        total += input.size();
    }
    std::printf("replayed %zu inputs, %zu bytes: no failure\n", inputs.size(), total);
    return 0;
}
