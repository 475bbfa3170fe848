// UniqueFunction<R(Args...)>: a move-only callable, for callbacks that own move-only state — a
// timer that holds a Later, a task that holds a Stream — which std::function (copyable only)
// cannot hold. The callable lives on the heap; empty until assigned. (C++23's
// std::move_only_function does this; this project builds as C++20.)
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace nexure::net {

template <typename Signature>
class UniqueFunction;

template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
  public:
    UniqueFunction() noexcept = default;
    UniqueFunction(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
    template <typename F,
              typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
                                          std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
    UniqueFunction(F&& f)  // NOLINT(google-explicit-constructor)
        : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}
    UniqueFunction(UniqueFunction&&) noexcept = default;
    UniqueFunction& operator=(UniqueFunction&&) noexcept = default;

    explicit operator bool() const noexcept { return impl_ != nullptr; }
    R operator()(Args... args) { return impl_->call(std::forward<Args>(args)...); }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual R call(Args... args) = 0;
    };
    template <typename F>
    struct Impl final : Base {
        explicit Impl(F&& f) : fn(std::move(f)) {}
        explicit Impl(const F& f) : fn(f) {}
        R call(Args... args) override { return fn(std::forward<Args>(args)...); }
        F fn;
    };
    std::unique_ptr<Base> impl_;
};

// What timers, posted tasks and the callbacks of Later and Stream take.
using Task = UniqueFunction<void()>;

}  // namespace nexure::net
