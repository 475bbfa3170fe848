#include "net/ws/topics.h"

#include <algorithm>

#include "net/ws/socket.h"

namespace nexure::net::ws::detail {

bool Topics::subscribe(Socket& s, std::string_view name) {
    if (name.size() > kMaxName) return false;
    auto it = topics_.find(name);
    if (it == topics_.end()) {
        auto t = std::make_unique<Topic>();
        t->name.assign(name);
        it = topics_.emplace(t->name, std::move(t)).first;
    }
    Topic* t = it->second.get();
    std::vector<Topic*>& mine = s.topics();
    if (std::find(mine.begin(), mine.end(), t) != mine.end()) return true;
    mine.push_back(t);
    t->subscribers.push_back(&s);
    return true;
}

void Topics::remove(Topic& t, Socket& s) noexcept {
    auto& subs = t.subscribers;
    auto it = std::find(subs.begin(), subs.end(), &s);
    if (it != subs.end()) {
        *it = subs.back();
        subs.pop_back();
    }
    if (subs.empty()) topics_.erase(topics_.find(std::string_view(t.name)));  // destroys `t`
}

bool Topics::unsubscribe(Socket& s, std::string_view name) noexcept {
    auto it = topics_.find(name);
    if (it == topics_.end()) return false;
    Topic* t = it->second.get();
    std::vector<Topic*>& mine = s.topics();
    auto m = std::find(mine.begin(), mine.end(), t);
    if (m == mine.end()) return false;
    *m = mine.back();
    mine.pop_back();
    remove(*t, s);
    return true;
}

void Topics::leave_all(Socket& s) noexcept {
    std::vector<Topic*>& mine = s.topics();
    for (Topic* t : mine)
        remove(*t, s);
    mine.clear();
}

const Topic* Topics::find(std::string_view name) const noexcept {
    auto it = topics_.find(name);
    return it == topics_.end() ? nullptr : it->second.get();
}

}  // namespace nexure::net::ws::detail
