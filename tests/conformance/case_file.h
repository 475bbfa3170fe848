// Conformance case files (tests/conformance/cases/*.case): the format is described in
// tests/conformance/README.md. Loading is plain, single-threaded test code; a malformed file is
// reported with its path and line, never skipped.
#pragma once

#include <string>
#include <vector>

namespace nexure::test::conformance {

// What the server does with the bytes of a case, as the case file states it.
struct Expectation {
    // The status of each final response, in request order (no 1xx). A 2xx means the request
    // reached the application. Another status is the engine's own error response when it is the
    // last one and the connection closes; otherwise the router's (a 501 for a method it does not
    // route), which the parser sees as a delivered request.
    std::vector<int> statuses;
    // After the last response: the server closes the connection (true), or keeps it open and
    // answers a following request (false, "keep-alive").
    bool close = false;

    bool operator==(const Expectation&) const = default;
};

struct Case {
    std::string name;  // the file name without ".case"
    std::string path;
    std::vector<std::string> rfc;  // "RFC 9112 §6.3 ...", at least one
    std::vector<std::string> notes;
    Expectation expect;
    std::string bytes;  // the raw request bytes, escapes resolved
};

// "200 200 400 close": the text of an expectation as written after "expect:".
std::string to_string(const Expectation& e);

// Parses one case file's text. On failure returns false with `error` naming the line.
bool parse_case(const std::string& text, Case* out, std::string* error);

// Loads every *.case file of `dir`, sorted by name. Files that fail to parse are listed in
// `errors` ("path:line: reason"); the others are returned.
std::vector<Case> load_cases(const std::string& dir, std::vector<std::string>* errors);

}  // namespace nexure::test::conformance
