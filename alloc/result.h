// Result<T>: a value or an error, for code that must not throw (alloc/, engine/, net/). It lives
// in alloc/, the bottom module, so that every module may use it without a dependency cycle.
// Any thread. Errors follow liburing's convention: a negative errno, like cqe->res.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace nexure {

// An error with an errno-style code and a human message that names the cause and the fix.
struct Error {
    int code = 0;  // positive errno value
    std::string message;
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error)
        : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const Error& error() const { return error_; }

  private:
    Error error_;
    bool ok_ = true;
};

// Fatal failure of an invariant that cannot hold after start-up. Prints file, line and reason.
[[noreturn, gnu::cold]] inline void check_failed(const char* file, int line, const char* what) {
    std::fprintf(stderr, "nexure: fatal: %s:%d: check failed: %s\n", file, line, what);
    std::abort();
}

}  // namespace nexure

#define NEXURE_CHECK(cond)                                                                   \
    do {                                                                                     \
        if (__builtin_expect(!(cond), 0)) ::nexure::check_failed(__FILE__, __LINE__, #cond); \
    } while (0)

#ifdef NDEBUG
#define NEXURE_ASSERT(cond) ((void)0)
#else
#define NEXURE_ASSERT(cond) NEXURE_CHECK(cond)
#endif
