#include "net/ws/deflate.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "net/ws/detail/field_list.h"

namespace nexure::net::ws {
namespace {

using detail::iequals;
using detail::trim_ows;

constexpr std::string_view kExtension = "permessage-deflate";
// What a sync flush ends with, removed when sending and put back before inflating (RFC 7692 §7.2).
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};

// Splits `s` at `sep` outside quoted strings: returns the part before the separator (or all of
// `s`) and leaves the rest in `s`.
std::string_view next_part(std::string_view& s, char sep) noexcept {
    bool quoted = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == sep) {
            std::string_view part = s.substr(0, i);
            s.remove_prefix(i + 1);
            return part;
        }
    }
    std::string_view part = s;
    s = {};
    return part;
}

// A parameter's value, unquoted (RFC 7692 §5.1: a quoted value must still be a token, so the
// escapes a window size could need are none; "\1\0" is still taken apart correctly).
bool unquote(std::string_view v, std::string& scratch, std::string_view& out) {
    if (v.size() >= 1 && v.front() == '"') {
        if (v.size() < 2 || v.back() != '"') return false;
        v = v.substr(1, v.size() - 2);
        scratch.clear();
        for (size_t i = 0; i < v.size(); ++i) {
            if (v[i] == '\\') {
                if (++i == v.size()) return false;
            }
            scratch.push_back(v[i]);
        }
        out = scratch;
        return true;
    }
    out = v;
    return true;
}

// "8".."15", exactly (RFC 7692 §7.1.2: 1*DIGIT without leading zeros, in that range).
bool parse_window_bits(std::string_view v, uint8_t& bits) noexcept {
    if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') {
        bits = static_cast<uint8_t>(v[0] - '0');
        return true;
    }
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        bits = static_cast<uint8_t>(10 + (v[1] - '0'));
        return true;
    }
    return false;
}

struct Offer {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    bool server_max_window_bits_given = false;
    uint8_t server_max_window_bits = 15;
    bool client_max_window_bits_given = false;
    bool client_max_window_bits_has_value = false;
    uint8_t client_max_window_bits = 15;
};

// Reads one offer's parameters (after the extension name). False for an unknown or repeated
// parameter or a bad value: the offer is declined.
bool parse_offer_params(std::string_view params, Offer& offer) {
    std::string scratch;
    while (!params.empty()) {
        std::string_view param = trim_ows(next_part(params, ';'));
        if (param.empty()) return false;
        std::string_view name = param;
        std::string_view value;
        bool has_value = false;
        if (size_t eq = param.find('='); eq != std::string_view::npos) {
            name = trim_ows(param.substr(0, eq));
            if (!unquote(trim_ows(param.substr(eq + 1)), scratch, value)) return false;
            has_value = true;
        }
        if (iequals(name, "server_no_context_takeover")) {
            if (has_value || offer.server_no_context_takeover) return false;
            offer.server_no_context_takeover = true;
        } else if (iequals(name, "client_no_context_takeover")) {
            if (has_value || offer.client_no_context_takeover) return false;
            offer.client_no_context_takeover = true;
        } else if (iequals(name, "server_max_window_bits")) {
            if (!has_value || offer.server_max_window_bits_given) return false;
            if (!parse_window_bits(value, offer.server_max_window_bits)) return false;
            offer.server_max_window_bits_given = true;
        } else if (iequals(name, "client_max_window_bits")) {
            if (offer.client_max_window_bits_given) return false;
            offer.client_max_window_bits_given = true;
            if (has_value) {
                if (!parse_window_bits(value, offer.client_max_window_bits)) return false;
                offer.client_max_window_bits_has_value = true;
            }
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<DeflateParams> negotiate_deflate(std::string_view offers,
                                               const DeflateOptions& options,
                                               std::string& response) {
    response.clear();
    if (!options.enabled) return std::nullopt;
    const uint8_t server_window =
        std::clamp<uint8_t>(options.server_max_window_bits, 9, 15);  // 8 is zlib's 9
    while (!offers.empty()) {
        std::string_view element = next_part(offers, ',');
        std::string_view name = trim_ows(next_part(element, ';'));
        if (!iequals(name, kExtension)) continue;
        Offer offer;
        if (!parse_offer_params(element, offer)) continue;

        DeflateParams p;
        p.level = options.level;
        p.min_size = options.min_size;
        p.server_no_context_takeover =
            offer.server_no_context_takeover || options.server_no_context_takeover;
        p.client_no_context_takeover =
            offer.client_no_context_takeover || options.client_no_context_takeover;
        p.server_max_window_bits = server_window;
        if (offer.server_max_window_bits_given)
            p.server_max_window_bits = std::min(server_window, offer.server_max_window_bits);
        // Without a value the client accepts any window the server names; the server names none
        // and inflates with the largest. With one, the client will keep to it: answer it back.
        p.client_max_window_bits =
            offer.client_max_window_bits_has_value ? offer.client_max_window_bits : 15;

        response.assign(kExtension);
        if (p.server_no_context_takeover) response += "; server_no_context_takeover";
        if (p.client_no_context_takeover) response += "; client_no_context_takeover";
        if (offer.server_max_window_bits_given || p.server_max_window_bits < 15) {
            response += "; server_max_window_bits=";
            response += std::to_string(p.server_max_window_bits);
        }
        if (offer.client_max_window_bits_has_value) {
            response += "; client_max_window_bits=";
            response += std::to_string(p.client_max_window_bits);
        }
        return p;
    }
    return std::nullopt;
}

// ---- Deflater ----------------------------------------------------------------------------------

Deflater::~Deflater() {
    if (ready_) deflateEnd(&z_);
}

bool Deflater::init(int level, uint8_t window_bits, bool no_context_takeover) noexcept {
    if (ready_) {
        deflateEnd(&z_);
        ready_ = false;
    }
    z_ = z_stream{};
    window_bits_ = std::clamp<uint8_t>(window_bits, 9, 15);
    reset_after_ = no_context_takeover;
    // Raw deflate: negative window bits (no zlib header or trailer).
    ready_ = deflateInit2(&z_, std::clamp(level, 0, 9), Z_DEFLATED, -static_cast<int>(window_bits_),
                          8, Z_DEFAULT_STRATEGY) == Z_OK;
    return ready_;
}

bool Deflater::compress(std::string_view message, alloc::ByteBuffer& out) noexcept {
    if (!ready_) return false;
    const size_t start = out.size();
    const auto* in = reinterpret_cast<const Bytef*>(message.data());
    size_t left = message.size();
    z_.next_in = const_cast<Bytef*>(in);  // zlib does not write through next_in
    z_.avail_in = 0;
    // One output run fits when deflateBound holds (it does for a fresh or sync-flushed stream);
    // later runs, if any, take what more is needed.
    size_t room = deflateBound(&z_, static_cast<uLong>(std::min<size_t>(left, UINT_MAX))) + 16;
    for (;;) {
        if (z_.avail_in == 0 && left != 0) {
            const size_t piece = std::min<size_t>(left, 1u << 30);
            z_.avail_in = static_cast<uInt>(piece);
            left -= piece;
        }
        room = std::min<size_t>(room, 1u << 30);
        char* p = out.prepare(room);
        z_.next_out = reinterpret_cast<Bytef*>(p);
        z_.avail_out = static_cast<uInt>(room);
        const int rc = deflate(&z_, Z_SYNC_FLUSH);
        out.commit(room - z_.avail_out);
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            out.truncate(start);
            deflateReset(&z_);
            return false;
        }
        if (z_.avail_in == 0 && left == 0 && z_.avail_out != 0) break;
        room = 64 * 1024;
    }
    z_.next_in = nullptr;
    z_.next_out = nullptr;
    const size_t produced = out.size() - start;
    if (produced < 4 || std::memcmp(out.data() + out.size() - 4, kTail, 4) != 0) {
        out.truncate(start);
        deflateReset(&z_);
        return false;
    }
    out.truncate(out.size() - 4);
    if (reset_after_) deflateReset(&z_);
    return true;
}

// ---- Inflater ----------------------------------------------------------------------------------

Inflater::~Inflater() {
    if (ready_) inflateEnd(&z_);
}

bool Inflater::init(uint8_t window_bits, bool no_context_takeover) noexcept {
    if (ready_) {
        inflateEnd(&z_);
        ready_ = false;
    }
    z_ = z_stream{};
    reset_after_ = no_context_takeover;
    // 8 is inflated with a 512-byte window: zlib-based clients asked for 8 compress with 9 (zlib's
    // raw deflate has no 256-byte window); a window larger than the sender's reads its data too.
    const int bits = std::clamp<int>(window_bits, 9, 15);
    ready_ = inflateInit2(&z_, -bits) == Z_OK;
    return ready_;
}

Inflater::Status Inflater::inflate(std::string_view message, size_t limit,
                                   std::string& out) noexcept {
    if (!ready_) return Status::kCorrupt;
    const size_t start = out.size();
    size_t used = start;
    Status status = Status::kOk;
    bool ended = false;
    const std::string_view pieces[2] = {
        message, std::string_view(reinterpret_cast<const char*>(kTail), sizeof kTail)};
    for (std::string_view piece : pieces) {
        if (ended || status != Status::kOk) break;
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
        z_.avail_in = static_cast<uInt>(piece.size());  // ≤ a message limit, far below 4 GiB
        for (;;) {
            if (used == out.size()) {
                // Room to inflate into: a guess from the compressed size first (within the
                // string's capacity this neither allocates nor zero-fills much), then doubling,
                // never past one byte beyond the limit (that byte tells "too big" from "exactly
                // the limit").
                const size_t so_far = used - start;
                size_t want = so_far == 0 ? used + 4 * message.size() + 256
                                          : used + std::max<size_t>(so_far, 4096);
                want = std::min(want, limit + 1);
                want = std::min(want, used + (size_t{1} << 30));
                out.resize(want);
            }
            const size_t room = out.size() - used;
            z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
            z_.avail_out = static_cast<uInt>(room);
            const int rc = ::inflate(&z_, Z_SYNC_FLUSH);
            used += room - z_.avail_out;
            if (used > limit) {
                status = Status::kTooBig;
                break;
            }
            if (rc == Z_STREAM_END) {
                // A final block (BFINAL) ends the deflate stream: what follows is not read, and
                // the next message starts a new stream.
                ended = true;
                break;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                status = Status::kCorrupt;
                break;
            }
            if (z_.avail_in == 0 && z_.avail_out != 0) break;  // this piece is done
            if (rc == Z_BUF_ERROR && z_.avail_out != 0) {
                status = Status::kCorrupt;  // no progress with input and room: cannot happen
                break;
            }
        }
    }
    z_.next_in = nullptr;
    z_.next_out = nullptr;
    if (status != Status::kOk) {
        out.resize(start);
        inflateReset(&z_);
        return status;
    }
    out.resize(used);
    if (reset_after_ || ended) inflateReset(&z_);
    return Status::kOk;
}

}  // namespace nexure::net::ws
