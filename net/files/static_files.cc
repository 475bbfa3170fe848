#include "net/files/static_files.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "net/files/path.h"
#include "net/files/sender.h"
#include "net/io.h"
#include "net/stream.h"

namespace nexure::files {

using net::http::ContentCoding;
using net::http::Request;
using net::http::Response;

namespace {

// One mounted directory: its root and options, shared by the handler's copies.
struct Mount {
    std::shared_ptr<const Root> root;
    StaticOptions options;
};

void plain_answer(Response& res, int status, std::string_view text) {
    res.status(status).type("text/plain; charset=utf-8").body(text);
}

std::string_view reason_text(int status) noexcept {
    switch (status) {
        case 400:
            return "Bad Request\n";
        case 403:
            return "Forbidden\n";
        case 404:
            return "Not Found\n";
        default:
            return "Internal Server Error\n";
    }
}

// The request's fields that decide a file answer, joined when repeated.
void copy_field(const Request& req, std::string_view name, std::string* out) {
    for (const net::http::Header& h : req.headers()) {
        if (!net::http::iequals(h.name, name)) continue;
        if (!out->empty()) out->append(", ");
        out->append(h.value);
    }
}

// A regular file read whole (small files): the bytes, then the answer in one piece.
struct SmallRead {
    net::Later later;
    std::shared_ptr<Response> head;
    std::string bytes;
    size_t got = 0;
    int fd = -1;
    uint64_t offset = 0;
};

void read_small(std::shared_ptr<SmallRead> s) {
    const size_t want = s->bytes.size() - s->got;
    net::io(
        [&](io_uring_sqe* sqe) {
            io_uring_prep_read(sqe, s->fd, s->bytes.data() + s->got, static_cast<unsigned>(want),
                               s->offset + s->got);
        },
        [s](int res) mutable {
            if (res > 0) {
                s->got += static_cast<size_t>(res);
                if (s->got < s->bytes.size()) {
                    read_small(std::move(s));  // a short read: the rest
                    return;
                }
            }
            ::close(s->fd);
            s->fd = -1;
            if (s->got < s->bytes.size()) {  // shrunk meanwhile, or a read error
                std::fprintf(stderr, "nexure: static file %s while being read: answered 500\n",
                             res == 0 ? "shrank" : "failed");
                s->later.respond([](Response& r) { plain_answer(r, 500, reason_text(500)); });
                return;
            }
            s->later.respond([s](Response& r) {
                r.swap(*s->head);
                r.body(s->bytes);
            });
        });
}

// Sends the body of an answer whose head is `head`: whole when small, streamed when large,
// nothing for HEAD and bodiless statuses.
// (A Response is never moved: its content type may live in its inline storage.)
void send_body(net::Later later, std::shared_ptr<Response> head, int fd, uint64_t offset, uint64_t length,
               bool head_only, size_t chunk_size, size_t inline_max) {
    if (head_only || length == 0) {
        ::close(fd);
        if (head_only && length != 0) {
            // The head with the GET's Content-Length, no body: a stream that ends at once.
            net::Stream s = later.stream(*head, length);
            s.end();
            return;
        }
        later.respond([head = std::move(head)](Response& r) { r.swap(*head); });
        return;
    }
    if (length <= inline_max) {
        auto s = std::make_shared<SmallRead>();
        s->later = std::move(later);
        s->head = std::move(head);
        s->bytes.resize(length);
        s->fd = fd;
        s->offset = offset;
        read_small(std::move(s));
        return;
    }
    send_file_body(later.stream(*head, length), fd, offset, length, chunk_size);
}

// One request being looked up on the worker's ring.
struct Transfer {
    std::shared_ptr<const Mount> mount;
    Lookup lookup;
    Conditions conditions;
    net::Later later;
    std::string location;  // for a directory's redirect: the request's path + "/" (+ query)

    Transfer(std::shared_ptr<const Mount> m, std::string relative, bool trailing_slash,
             std::string_view accept_encoding)
        : mount(std::move(m)),
          lookup(*mount->root, std::move(relative), trailing_slash, accept_encoding,
                 mount->options) {}
};

void answer(const std::shared_ptr<Transfer>& t) {
    Lookup::Result found = t->lookup.take_result();
    const StaticOptions& o = t->mount->options;
    if (found.status == 301) {
        t->later.respond([location = std::move(t->location)](Response& r) {
            r.status(301).header("Location", location);
            plain_answer(r, 301, "Moved Permanently\n");
        });
        return;
    }
    if (found.status != 0) {
        if (found.status == 500)
            std::fprintf(stderr, "nexure: static file open failed (errno %d): answered 500\n",
                         found.errno_value);
        t->later.respond([status = found.status](Response& r) {
            plain_answer(r, status, reason_text(status));
        });
        return;
    }
    const std::string etag = strong_etag(found.facts);
    const Plan p = plan(found.facts, etag, t->conditions);
    auto head = std::make_shared<Response>();
    write_head(*head, found, p, etag, o);
    const bool bodiless = p.status == 304 || p.status == 416;
    send_body(std::move(t->later), std::move(head), found.fd, p.offset, bodiless ? 0 : p.length,
              !t->conditions.get, o.chunk_size, o.inline_max);
}

// Runs the lookup's next operation on the worker's ring, until it is done.
void drive(std::shared_ptr<Transfer> t) {
    switch (t->lookup.step()) {
        case Lookup::Step::kOpen:
            net::io(
                [&](io_uring_sqe* sqe) {
                    io_uring_prep_openat2(sqe, t->lookup.root_fd(), t->lookup.open_path(),
                                          const_cast<open_how*>(t->lookup.how()));
                },
                [t](int res) mutable {
                    t->lookup.opened(res);
                    drive(std::move(t));
                });
            return;
        case Lookup::Step::kStat:
            net::io(
                [&](io_uring_sqe* sqe) {
                    io_uring_prep_statx(sqe, t->lookup.file_fd(), "", AT_EMPTY_PATH,
                                        STATX_BASIC_STATS, t->lookup.statx_buffer());
                },
                [t](int res) mutable {
                    t->lookup.stated(res);
                    drive(std::move(t));
                });
            return;
        case Lookup::Step::kDone:
            answer(t);
            return;
    }
}

void serve(const std::shared_ptr<const Mount>& mount, const Request& req, Response& res) {
    std::string_view raw = req.path();
    for (const net::http::Param& p : req.params()) {
        if (p.name == "*") raw = p.value;
    }
    RelativePath rel;
    switch (relative_path(raw, &rel)) {
        case PathVerdict::kMalformed:
            plain_answer(res, 400, reason_text(400));
            return;
        case PathVerdict::kRefused:
            plain_answer(res, 404, reason_text(404));
            return;
        case PathVerdict::kOk:
            break;
    }
    std::string accept_encoding;
    if (mount->options.precompressed) copy_field(req, "accept-encoding", &accept_encoding);
    auto t = std::make_shared<Transfer>(mount, std::move(rel.path), rel.trailing_slash,
                                        accept_encoding);
    t->conditions.get = req.method() == net::http::Method::kGet;
    copy_field(req, "if-none-match", &t->conditions.if_none_match);
    copy_field(req, "if-modified-since", &t->conditions.if_modified_since);
    copy_field(req, "range", &t->conditions.range);
    copy_field(req, "if-range", &t->conditions.if_range);
    if (mount->options.redirect_directories) {
        t->location.assign(req.path()).push_back('/');
        if (!req.query().empty()) t->location.append("?").append(req.query());
    }
    t->later = res.defer();
    drive(std::move(t));
}

}  // namespace

void write_head(Response& res, const Lookup::Result& found, const Plan& p, std::string_view etag,
                const StaticOptions& o) {
    res.status(p.status);
    if (p.status == 200 || p.status == 206) {
        res.type(found.content_type);
        if (found.coding != ContentCoding::kIdentity)
            res.header("Content-Encoding", net::http::coding_token(found.coding));
    }
    char range[96];
    if (p.status == 206) {
        std::snprintf(range, sizeof(range), "bytes %llu-%llu/%llu",
                      static_cast<unsigned long long>(p.offset),
                      static_cast<unsigned long long>(p.offset + p.length - 1),
                      static_cast<unsigned long long>(found.facts.size));
        res.header("Content-Range", range);
    } else if (p.status == 416) {
        std::snprintf(range, sizeof(range), "bytes */%llu",
                      static_cast<unsigned long long>(found.facts.size));
        res.header("Content-Range", range);
    }
    if (p.status != 416) {
        res.header("Accept-Ranges", "bytes");
        res.header("ETag", etag);
        res.header("Last-Modified", http_date(found.facts.mtime_sec));
        char cache[64];
        std::snprintf(cache, sizeof(cache), "public, max-age=%u%s", o.max_age,
                      o.immutable ? ", immutable" : "");
        res.header("Cache-Control", cache);
    }
    if (o.precompressed) res.header("Vary", "Accept-Encoding");
}

net::Handler static_files(std::string_view root, StaticOptions options) {
    Result<std::shared_ptr<const Root>> r = Root::open(root);
    if (!r) throw std::invalid_argument(r.error().message);
    auto mount = std::make_shared<const Mount>(Mount{std::move(r.value()), std::move(options)});
    return [mount](const Request& req, Response& res) { serve(mount, req, res); };
}

void mount(net::Server& server, std::string_view prefix, std::string_view root,
           StaticOptions options) {
    std::string pattern(prefix);
    while (!pattern.empty() && pattern.back() == '/')
        pattern.pop_back();
    pattern.append("/*");
    server.get(pattern, static_files(root, std::move(options)));
}

// ---- the JavaScript bridge's file answers

Decision decide_blocking(const Root& root, std::string_view name, bool url,
                         const Conditions& conditions, std::string_view accept_encoding,
                         const StaticOptions& options) {
    Decision d;
    RelativePath rel;
    const PathVerdict v = url ? relative_path(name, &rel) : relative_file_path(name, &rel);
    if (v != PathVerdict::kOk) {
        d.status = v == PathVerdict::kMalformed ? 400 : 404;
        return d;
    }
    Lookup lookup(root, std::move(rel.path), rel.trailing_slash, accept_encoding, options);
    lookup.run_blocking();
    Lookup::Result found = lookup.take_result();
    if (found.status != 0) {
        d.status = found.status;
        d.errno_value = found.errno_value;
        return d;
    }
    ::close(found.fd);
    d.etag = strong_etag(found.facts);
    const Plan p = plan(found.facts, d.etag, conditions);
    d.status = p.status;
    d.head = std::make_shared<Response>();
    write_head(*d.head, found, p, d.etag, options);
    d.path = std::move(found.path);
    d.offset = p.offset;
    d.length = p.status == 304 || p.status == 416 ? 0 : p.length;
    return d;
}

namespace {

struct Reopen {
    FileBody body;
    net::Later later;
    std::shared_ptr<Response> head;
    open_how how{};
    struct statx stx {};
    int fd = -1;
};

void reopened_and_stated(const std::shared_ptr<Reopen>& r) {
    const FileFacts facts{r->stx.stx_size, r->stx.stx_mtime.tv_sec, r->stx.stx_mtime.tv_nsec,
                          r->stx.stx_ino};
    if (!S_ISREG(r->stx.stx_mode) || (!r->body.etag.empty() && strong_etag(facts) != r->body.etag) ||
        r->body.offset + r->body.length > facts.size) {
        ::close(r->fd);
        std::fprintf(stderr, "nexure: file %s changed before it was sent: answered 500\n",
                     r->body.path.c_str());
        r->later.respond([](Response& res) { plain_answer(res, 500, reason_text(500)); });
        return;
    }
    const int flags = fcntl(r->fd, F_GETFL);
    if (flags >= 0) (void)fcntl(r->fd, F_SETFL, flags & ~O_NONBLOCK);
    send_body(std::move(r->later), std::move(r->head), r->fd, r->body.offset, r->body.length,
              r->body.head_only, r->body.chunk_size, r->body.inline_max);
}

}  // namespace

void answer_with_file(net::Later later, std::shared_ptr<Response> head, FileBody body) {
    auto r = std::make_shared<Reopen>();
    r->body = std::move(body);
    r->later = std::move(later);
    r->head = std::move(head);
    r->how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    r->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (!r->body.follow_symlinks) r->how.resolve |= RESOLVE_NO_SYMLINKS;
    net::io(
        [&](io_uring_sqe* sqe) {
            io_uring_prep_openat2(sqe, r->body.root->fd(), r->body.path.c_str(), &r->how);
        },
        [r](int fd) {
            if (fd < 0) {
                std::fprintf(stderr, "nexure: file %s could not be opened (errno %d): answered 500\n",
                             r->body.path.c_str(), -fd);
                r->later.respond([](Response& res) { plain_answer(res, 500, reason_text(500)); });
                return;
            }
            r->fd = fd;
            net::io(
                [&](io_uring_sqe* sqe) {
                    io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &r->stx);
                },
                [r](int res) {
                    if (res < 0) {
                        ::close(r->fd);
                        r->later.respond(
                            [](Response& x) { plain_answer(x, 500, reason_text(500)); });
                        return;
                    }
                    reopened_and_stated(r);
                });
        });
}

}  // namespace nexure::files
