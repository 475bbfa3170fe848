// Lookup: finding the file a request names below a root — the open (openat2 confined to the
// root), the precompressed sibling Accept-Encoding prefers, the directory's index file — as a
// small state machine whose operations someone else runs: the engine runs them as io_uring
// operations on the worker's ring (static_files.cc), the JavaScript binding as plain syscalls
// (the napi addon's file answers and inject()). One owner, one thread at a time.
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"
#include "net/files/plan.h"
#include "net/http/accept_encoding.h"

namespace nexure::files {

// A served directory, opened once (O_PATH): every file is opened relative to it. Shared by all
// workers (read-only).
class Root {
  public:
    // Opens `dir` (blocking: at start-up, or once per root in the binding). The error names the
    // directory and the cause.
    static Result<std::shared_ptr<const Root>> open(std::string_view dir);
    ~Root();
    Root(const Root&) = delete;
    Root& operator=(const Root&) = delete;

    int fd() const noexcept { return fd_; }
    const std::string& path() const noexcept { return path_; }

  private:
    Root(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
};

// How files are looked up and answered (StaticOptions in static_files.h holds one).
struct LookupOptions {
    // Tried in order when the path names a directory; empty: a directory is 404 (never listed).
    std::vector<std::string> index = {"index.html"};
    // Serve "<file>.br" / "<file>.gz" when they exist and Accept-Encoding prefers them (with
    // "Vary: Accept-Encoding" on every answer).
    bool precompressed = true;
    // false: RESOLVE_NO_SYMLINKS, no symbolic link anywhere in the path is followed. true
    // (default): links are followed while they stay below the root (RESOLVE_BENEATH refuses the
    // rest); "magic" /proc links never are.
    bool follow_symlinks = true;
    // A directory requested without its trailing slash is redirected (301) to the path with it,
    // so that the index page's relative links resolve (nginx does the same); false: 404.
    bool redirect_directories = true;
};

class Lookup {
  public:
    enum class Step : uint8_t {
        kOpen,  // openat2(root fd, open_path(), how()) → opened(result)
        kStat,  // statx(file_fd(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, statx_buffer()) → stated()
        kDone,  // result() holds the outcome
    };
    struct Result {
        // 0: found (fd open, the caller closes it); else the answer: 301 (location), 403 (no
        // permission), 404 (no such file, not a regular file, refused, a directory without
        // index), 500 (an unexpected error: errno_value says which).
        int status = 0;
        int fd = -1;
        FileFacts facts;
        std::string path;               // what was opened, relative to the root
        std::string_view content_type;  // of the representation (the name without .br/.gz)
        net::http::ContentCoding coding = net::http::ContentCoding::kIdentity;
        int errno_value = 0;
    };

    // `relative`: from relative_path() (path.h); `accept_encoding`: the request's field values
    // (empty: identity only); `request_path`: for a directory redirect's Location.
    Lookup(const Root& root, std::string relative, bool trailing_slash,
           std::string_view accept_encoding, const LookupOptions& options);
    ~Lookup();
    Lookup(const Lookup&) = delete;
    Lookup& operator=(const Lookup&) = delete;

    Step step() const noexcept { return step_; }
    int root_fd() const noexcept { return root_fd_; }
    const char* open_path() const noexcept { return open_path_.c_str(); }
    const open_how* how() const noexcept { return &how_; }
    int file_fd() const noexcept { return fd_; }
    struct statx* statx_buffer() noexcept { return &stx_; }

    void opened(int res) noexcept;  // the open's result: a descriptor or -errno
    void stated(int res) noexcept;  // the statx's result: 0 or -errno

    // After kDone. Moves the descriptor out (the Lookup no longer closes it).
    Result take_result() noexcept;

    // Runs every step with blocking syscalls (the binding's use, not a worker's).
    void run_blocking() noexcept;

  private:
    void next_candidate() noexcept;
    void finish(int status, int err = 0) noexcept;

    int root_fd_;
    const LookupOptions& options_;
    std::string base_;  // the path being looked up (the index file's once a directory was found)
    bool trailing_slash_;
    bool tried_index_ = false;
    size_t index_at_ = 0;
    std::vector<net::http::ContentCoding> codings_;  // to try, in order; identity last
    size_t coding_at_ = 0;
    std::string open_path_;
    open_how how_{};
    int fd_ = -1;
    struct statx stx_ {};
    Step step_ = Step::kOpen;
    Result result_;
};

}  // namespace nexure::files
