#include "net/files/lookup.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/files/mime.h"

namespace nexure::files {

using net::http::ContentCoding;

Result<std::shared_ptr<const Root>> Root::open(std::string_view dir) {
    std::string path(dir);
    if (path.empty()) return Error{EINVAL, "static files: the root directory is empty"};
    const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return Error{err, "static files: cannot open the root directory '" + path +
                              "': " + std::strerror(err) +
                              (err == ENOTDIR ? " (not a directory)" : "")};
    }
    return std::shared_ptr<const Root>(new Root(fd, std::move(path)));
}

Root::~Root() {
    ::close(fd_);
}

namespace {

std::string_view suffix_of(ContentCoding c) noexcept {
    switch (c) {
        case ContentCoding::kBrotli:
            return ".br";
        case ContentCoding::kGzip:
            return ".gz";
        default:
            return "";
    }
}

int status_for_errno(int err) noexcept {
    switch (err) {
        case EACCES:
        case EPERM:
            return 403;
        case ENOENT:
        case ENOTDIR:
        case EXDEV:  // RESOLVE_BENEATH: the path (or a link in it) leads out of the root
        case ELOOP:  // RESOLVE_NO_SYMLINKS / RESOLVE_NO_MAGICLINKS, or a loop of links
        case ENAMETOOLONG:
        case EISDIR:
        case ENXIO:  // a FIFO or socket (O_NONBLOCK open)
        case ENODEV:
        case EAGAIN:  // RESOLVE_CACHED only, never set here
            return 404;
        default:
            return 500;
    }
}

}  // namespace

Lookup::Lookup(const Root& root, std::string relative, bool trailing_slash,
               std::string_view accept_encoding, const LookupOptions& options)
    : root_fd_(root.fd()),
      options_(options),
      base_(std::move(relative)),
      trailing_slash_(trailing_slash) {
    if (options_.precompressed && !accept_encoding.empty()) {
        static constexpr ContentCoding kBoth[] = {ContentCoding::kBrotli, ContentCoding::kGzip};
        const ContentCoding first = net::http::choose_coding(accept_encoding, kBoth);
        if (first != ContentCoding::kIdentity) {
            codings_.push_back(first);
            const ContentCoding other[] = {first == ContentCoding::kBrotli ? ContentCoding::kGzip
                                                                            : ContentCoding::kBrotli};
            if (net::http::choose_coding(accept_encoding, other) != ContentCoding::kIdentity)
                codings_.push_back(other[0]);
        }
    }
    codings_.push_back(ContentCoding::kIdentity);
    next_candidate();
}

Lookup::~Lookup() {
    if (fd_ >= 0) ::close(fd_);
}

void Lookup::next_candidate() noexcept {
    // The root itself has no sibling: only the index files below it may have.
    while (base_.empty() && codings_[coding_at_] != ContentCoding::kIdentity)
        ++coding_at_;
    const ContentCoding c = codings_[coding_at_];
    open_path_ = base_.empty() ? std::string(".") : base_;
    open_path_.append(suffix_of(c));
    how_ = open_how{};
    // O_NONBLOCK: opening a FIFO must not block (it is refused below); cleared on the regular
    // file that is served, or io_uring's reads would fail with EAGAIN instead of waiting for the
    // disk.
    how_.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how_.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (!options_.follow_symlinks) how_.resolve |= RESOLVE_NO_SYMLINKS;
    step_ = Step::kOpen;
}

void Lookup::finish(int status, int err) noexcept {
    if (status != 0 && fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    result_.status = status;
    result_.errno_value = err;
    step_ = Step::kDone;
}

void Lookup::opened(int res) noexcept {
    const bool variant = codings_[coding_at_] != ContentCoding::kIdentity;
    if (res < 0) {
        if (variant) {  // no usable sibling: the next coding, at last the file itself
            ++coding_at_;
            next_candidate();
            return;
        }
        if (tried_index_ && (res == -ENOENT) && index_at_ + 1 < options_.index.size()) {
            ++index_at_;  // the next index name
            base_ = result_.path + options_.index[index_at_];
            coding_at_ = 0;
            next_candidate();
            return;
        }
        finish(status_for_errno(-res), -res);
        return;
    }
    fd_ = res;
    step_ = Step::kStat;
}

void Lookup::stated(int res) noexcept {
    if (res < 0) {
        finish(500, -res);
        return;
    }
    const ContentCoding coding = codings_[coding_at_];
    if (S_ISREG(stx_.stx_mode)) {
        const int flags = fcntl(fd_, F_GETFL);
        if (flags < 0 || fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) < 0) {
            finish(500, errno);
            return;
        }
        result_.fd = fd_;
        fd_ = -1;
        result_.facts = FileFacts{stx_.stx_size, stx_.stx_mtime.tv_sec, stx_.stx_mtime.tv_nsec,
                                  stx_.stx_ino};
        result_.path = open_path_;
        result_.content_type = content_type_for(base_);
        result_.coding = coding;
        finish(0);
        return;
    }
    ::close(fd_);
    fd_ = -1;
    if (coding != ContentCoding::kIdentity) {  // a directory named like a sibling: not one
        ++coding_at_;
        next_candidate();
        return;
    }
    if (!S_ISDIR(stx_.stx_mode) || tried_index_ || options_.index.empty()) {
        finish(404);  // a device, FIFO or socket; an index that is a directory; no index files
        return;
    }
    if (!trailing_slash_ && !base_.empty()) {
        finish(options_.redirect_directories ? 301 : 404);
        return;
    }
    tried_index_ = true;
    index_at_ = 0;
    result_.path = base_.empty() ? std::string() : base_ + "/";  // the directory, kept
    base_ = result_.path + options_.index[0];
    coding_at_ = 0;
    // Precompressed siblings of the index file too.
    next_candidate();
}

Lookup::Result Lookup::take_result() noexcept {
    return std::move(result_);
}

void Lookup::run_blocking() noexcept {
    while (step_ != Step::kDone) {
        if (step_ == Step::kOpen) {
            const long fd = syscall(SYS_openat2, root_fd_, open_path_.c_str(), &how_, sizeof(how_));
            opened(fd < 0 ? -errno : static_cast<int>(fd));
        } else {
            const int r = statx(fd_, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx_);
            stated(r < 0 ? -errno : 0);
        }
    }
}

}  // namespace nexure::files
