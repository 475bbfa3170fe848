// Route tables and lookup lists for the router benchmarks, read from text files so that the C++
// benchmarks and the find-my-way script (bench/router/fmw_bench.js) use exactly the same data.
//
//   routes:  METHOD /pattern            (lines starting with '#' are comments)
//   lookups: METHOD /path KIND          (KIND: static | param | miss)
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/http/method.h"
#include "net/router/router.h"

namespace nexure::bench {

struct RouteLine {
    net::http::Method method;
    std::string pattern;
};

struct Lookup {
    net::http::Method method;
    std::string path;
    std::string kind;
};

inline net::http::Method parse_method_or_throw(const std::string& name, const std::string& file) {
    net::http::Method m;
    if (!net::http::parse_method(name, &m)) {
        throw std::runtime_error(file + ": unknown method '" + name + "'");
    }
    return m;
}

inline std::vector<std::vector<std::string>> read_fields(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot open " + file);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::vector<std::string> row;
        for (std::string f; fields >> f;)
            row.push_back(f);
        if (!row.empty()) rows.push_back(std::move(row));
    }
    return rows;
}

inline std::vector<RouteLine> load_routes(const std::string& file) {
    std::vector<RouteLine> out;
    for (auto& row : read_fields(file)) {
        if (row.size() != 2) throw std::runtime_error(file + ": expected 'METHOD /pattern'");
        out.push_back({parse_method_or_throw(row[0], file), row[1]});
    }
    return out;
}

inline std::vector<Lookup> load_lookups(const std::string& file) {
    std::vector<Lookup> out;
    for (auto& row : read_fields(file)) {
        if (row.size() != 3) throw std::runtime_error(file + ": expected 'METHOD /path KIND'");
        out.push_back({parse_method_or_throw(row[0], file), row[1], row[2]});
    }
    return out;
}

inline net::router::Router build_router(const std::vector<RouteLine>& routes) {
    net::router::Router r;
    for (const RouteLine& line : routes)
        r.add(line.method, line.pattern);
    return r;
}

// A static-heavy table: `sections` x `pages` static paths such as /docs/s17/page-203, plus the
// lookups for them (hits on existing pages, misses on pages one past the end).
inline std::vector<RouteLine> static_heavy_routes(int sections, int pages) {
    std::vector<RouteLine> out;
    for (int s = 0; s < sections; ++s) {
        for (int p = 0; p < pages; ++p) {
            out.push_back({net::http::Method::kGet,
                           "/docs/s" + std::to_string(s) + "/page-" + std::to_string(p)});
        }
    }
    return out;
}

// The ten routes of a small JSON API.
inline std::vector<RouteLine> small_api_routes() {
    using M = net::http::Method;
    return {{M::kGet, "/"},
            {M::kGet, "/health"},
            {M::kGet, "/users"},
            {M::kPost, "/users"},
            {M::kGet, "/users/:id"},
            {M::kPut, "/users/:id"},
            {M::kDelete, "/users/:id"},
            {M::kGet, "/users/:id/posts"},
            {M::kGet, "/users/:id/posts/:post"},
            {M::kGet, "/static/*"}};
}

}  // namespace nexure::bench
