#include "net/ws/utf8_stream.h"

#include <array>
#include <cstddef>
#include <cstring>

namespace nexure::net::ws {
namespace {

// A byte's class: what it may be in UTF-8 (RFC 3629 §4's table, split where the second byte's
// range depends on the first).
enum Class : int {
    kAscii,   // 00..7F
    kCont80,  // 80..8F
    kCont90,  // 90..9F
    kContA0,  // A0..BF
    kNever,   // C0 C1 F5..FF: never in UTF-8
    kLead2,   // C2..DF: one continuation follows
    kLeadE0,  // E0: A0..BF, then one continuation (no overlong forms)
    kLead3,   // E1..EC EE EF: two continuations
    kLeadED,  // ED: 80..9F, then one continuation (no surrogates)
    kLeadF0,  // F0: 90..BF, then two continuations (no overlong forms)
    kLead4,   // F1..F3: three continuations
    kLeadF4,  // F4: 80..8F, then two continuations (nothing above U+10FFFF)
    kClasses,
};

// States: 0 accept and 1 reject (Utf8Stream's constants), then what the next byte must be.
enum State : int {
    sAccept = 0,
    sReject = 1,
    sNeed1,    // one continuation 80..BF left
    sNeed2,    // two left
    sNeed3,    // three left
    sAfterE0,  // A0..BF, then one
    sAfterED,  // 80..9F, then one
    sAfterF0,  // 90..BF, then two
    sAfterF4,  // 80..8F, then two
    kStates,
};
constexpr size_t kTableSize = size_t{kStates} * kClasses;

constexpr std::array<uint8_t, 256> make_classes() {
    std::array<uint8_t, 256> c{};
    for (int b = 0; b < 256; ++b) {
        uint8_t k;
        if (b < 0x80)
            k = kAscii;
        else if (b < 0x90)
            k = kCont80;
        else if (b < 0xA0)
            k = kCont90;
        else if (b < 0xC0)
            k = kContA0;
        else if (b < 0xC2)
            k = kNever;
        else if (b < 0xE0)
            k = kLead2;
        else if (b == 0xE0)
            k = kLeadE0;
        else if (b == 0xED)
            k = kLeadED;
        else if (b < 0xF0)
            k = kLead3;
        else if (b == 0xF0)
            k = kLeadF0;
        else if (b < 0xF4)
            k = kLead4;
        else if (b == 0xF4)
            k = kLeadF4;
        else
            k = kNever;
        c[static_cast<size_t>(b)] = k;
    }
    return c;
}

constexpr std::array<uint8_t, kTableSize> make_transitions() {
    std::array<uint8_t, kTableSize> t{};
    for (auto& x : t)
        x = sReject;
    auto set = [&t](int state, int cls, int next) {
        t[static_cast<size_t>(state * static_cast<int>(kClasses) + cls)] =
            static_cast<uint8_t>(next);
    };
    // Between code points: a lead byte or ASCII.
    set(sAccept, kAscii, sAccept);
    set(sAccept, kLead2, sNeed1);
    set(sAccept, kLeadE0, sAfterE0);
    set(sAccept, kLead3, sNeed2);
    set(sAccept, kLeadED, sAfterED);
    set(sAccept, kLeadF0, sAfterF0);
    set(sAccept, kLead4, sNeed3);
    set(sAccept, kLeadF4, sAfterF4);
    // Inside one: continuations only, some ranges restricted right after the lead.
    for (int cls : {kCont80, kCont90, kContA0}) {
        set(sNeed1, cls, sAccept);
        set(sNeed2, cls, sNeed1);
        set(sNeed3, cls, sNeed2);
    }
    set(sAfterE0, kContA0, sNeed1);
    set(sAfterED, kCont80, sNeed1);
    set(sAfterED, kCont90, sNeed1);
    set(sAfterF0, kCont90, sNeed2);
    set(sAfterF0, kContA0, sNeed2);
    set(sAfterF4, kCont80, sNeed2);
    return t;
}

constexpr std::array<uint8_t, 256> kClassOf = make_classes();
constexpr std::array<uint8_t, kTableSize> kNext = make_transitions();

}  // namespace

bool Utf8Stream::feed(std::string_view piece) noexcept {
    uint32_t state = state_;
    if (state == kReject) return false;
    const auto* p = reinterpret_cast<const uint8_t*>(piece.data());
    const uint8_t* end = p + piece.size();
    while (p < end) {
        if (state == kAccept) {
            // Text is mostly ASCII: skip it 16 bytes at a time while between code points.
            while (end - p >= 16) {
                uint64_t a;
                uint64_t b;
                std::memcpy(&a, p, 8);
                std::memcpy(&b, p + 8, 8);
                if (((a | b) & 0x8080808080808080ULL) != 0) break;
                p += 16;
            }
            while (p < end && *p < 0x80)
                ++p;
            if (p == end) break;
        }
        state = kNext[state * static_cast<uint32_t>(kClasses) + kClassOf[*p]];
        ++p;
        if (state == kReject) {
            state_ = kReject;
            return false;
        }
    }
    state_ = state;
    return true;
}

}  // namespace nexure::net::ws
