// Topics: one worker's pub/sub subscriptions — which of its sockets listen to which topic. A
// socket keeps the topics it joined, so that leaving (or closing) costs one pass over its own
// few, not over every topic. Worker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nexure::net::ws::detail {

class Socket;

struct Topic {
    std::string name;
    std::vector<Socket*> subscribers;
};

class Topics {
  public:
    // The longest topic name accepted.
    static constexpr size_t kMaxName = 1024;

    // Adds `s` to `name` (made at first use); false when the name is too long. Idempotent.
    bool subscribe(Socket& s, std::string_view name);
    bool unsubscribe(Socket& s, std::string_view name) noexcept;
    // Every topic of `s` (the socket is closing).
    void leave_all(Socket& s) noexcept;
    const Topic* find(std::string_view name) const noexcept;
    size_t size() const noexcept { return topics_.size(); }

  private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    void remove(Topic& t, Socket& s) noexcept;
    std::unordered_map<std::string, std::unique_ptr<Topic>, Hash, std::equal_to<>> topics_;
};

}  // namespace nexure::net::ws::detail
