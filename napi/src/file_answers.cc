#include "napi/src/file_answers.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "napi/src/records.h"
#include "net/files/static_files.h"
#include "net/later.h"

namespace nexure::napi {

namespace {

uint64_t load_u64(const char* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// The roots this worker has opened (one blocking open(O_PATH) per root per worker, then kept).
std::shared_ptr<const files::Root> root_for(const std::string& dir) {
    thread_local std::unordered_map<std::string, std::shared_ptr<const files::Root>> roots;
    auto it = roots.find(dir);
    if (it != roots.end()) return it->second;
    Result<std::shared_ptr<const files::Root>> r = files::Root::open(dir);
    if (!r) {
        std::fprintf(stderr, "nexure: %s\n", r.error().message.c_str());
        return nullptr;
    }
    if (roots.size() >= 64) roots.clear();  // bounded: apps serve a handful of roots
    return roots.emplace(dir, std::move(r.value())).first->second;
}

void fail(net::Later later, const char* why) {
    std::fprintf(stderr, "nexure: a file answer from JavaScript was refused: %s (answered 500)\n",
                 why);
    later.respond([](net::http::Response& r) {
        r.status(500).type("text/plain").body("Internal Server Error\n");
    });
}

}  // namespace

void deliver_file_answer(const net::Ticket& ticket, net::http::Response& res) noexcept {
    using namespace file_record;
    net::Later later = net::Later::adopt(ticket);
    try {
        const std::string spec(res.body_view());
        if (spec.size() < kFixedBytes) return fail(std::move(later), "the file spec is too short");
        const char* p = spec.data();
        const uint32_t root_length = load_u32(p + kRootLength);
        const uint32_t path_length = load_u32(p + kPathLength);
        const uint32_t etag_length = load_u32(p + kEtagLength);
        if (uint64_t{kFixedBytes} + root_length + path_length + etag_length > spec.size())
            return fail(std::move(later), "the file spec's lengths pass its end");
        files::FileBody body;
        body.offset = load_u64(p + kOffset);
        body.length = load_u64(p + kLength);
        const uint32_t flags = load_u32(p + kFlags);
        body.head_only = (flags & kHeadOnly) != 0;
        body.follow_symlinks = (flags & kNoSymlinks) == 0;
        const std::string root(p + kFixedBytes, root_length);
        body.path.assign(p + kFixedBytes + root_length, path_length);
        body.etag.assign(p + kFixedBytes + root_length + path_length, etag_length);
        body.root = root_for(root);
        if (body.root == nullptr) return fail(std::move(later), "its root cannot be opened");
        auto head = std::make_shared<net::http::Response>();
        head->swap(res);
        head->body({});
        files::answer_with_file(std::move(later), std::move(head), std::move(body));
    } catch (const std::exception& e) {
        fail(std::move(later), e.what());
    }
}

}  // namespace nexure::napi
