#include "tests/conformance/case_file.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace nexure::test::conformance {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> words;
    std::istringstream in(s);
    for (std::string w; in >> w;)
        words.push_back(w);
    return words;
}

// The router's answers for requests it does not route (404, 405, 501) keep the connection; the
// engine's own error responses close it.
bool router_status(int status) {
    return status == 404 || status == 405 || status == 501;
}

bool parse_expectation(const std::string& text, Expectation* out, std::string* why) {
    const std::vector<std::string> words = split_words(text);
    if (words.size() < 2) {
        *why = "expect: needs at least one status and then 'close' or 'keep-alive'";
        return false;
    }
    if (words.back() == "close") {
        out->close = true;
    } else if (words.back() == "keep-alive") {
        out->close = false;
    } else {
        *why = "expect: must end with 'close' or 'keep-alive', not '" + words.back() + "'";
        return false;
    }
    for (size_t i = 0; i + 1 < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.size() != 3 ||
            !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            *why = "expect: '" + w + "' is not a three-digit status";
            return false;
        }
        const int status = std::stoi(w);
        if (status < 200 || status > 599) {
            *why = "expect: " + w + " is not a final status (1xx responses are not listed)";
            return false;
        }
        if (!out->statuses.empty() && out->statuses.back() >= 300 &&
            !router_status(out->statuses.back())) {
            *why = "expect: an error status ends the connection, so it must be the last one";
            return false;
        }
        out->statuses.push_back(status);
    }
    if (out->statuses.back() >= 300 && !out->close && !router_status(out->statuses.back())) {
        *why = "expect: the engine closes the connection after an error status";
        return false;
    }
    return true;
}

// One line of the request section: printable ASCII as is, C-style escapes for everything else.
bool append_bytes(const std::string& line, std::string* out, std::string* why) {
    if (!line.empty() && (line.back() == ' ')) {
        *why = "a request line may not end with a space (an editor could strip it): write \\x20";
        return false;
    }
    for (size_t i = 0; i < line.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(line[i]);
        if (c != '\\') {
            if (c < 0x20 || c > 0x7e) {
                *why = "raw byte " + std::to_string(c) + " in the request: write it as an escape";
                return false;
            }
            out->push_back(static_cast<char>(c));
            continue;
        }
        if (++i == line.size()) {
            *why = "a backslash ends the line: write \\\\ for a backslash";
            return false;
        }
        switch (line[i]) {
            case 'r':
                out->push_back('\r');
                break;
            case 'n':
                out->push_back('\n');
                break;
            case 't':
                out->push_back('\t');
                break;
            case '0':
                out->push_back('\0');
                break;
            case '\\':
                out->push_back('\\');
                break;
            case 'x': {
                const int hi = i + 1 < line.size() ? hex_value(line[i + 1]) : -1;
                const int lo = i + 2 < line.size() ? hex_value(line[i + 2]) : -1;
                if (hi < 0 || lo < 0) {
                    *why = "\\x takes exactly two hex digits";
                    return false;
                }
                out->push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                break;
            }
            default:
                *why = std::string("unknown escape \\") + line[i];
                return false;
        }
    }
    return true;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string to_string(const Expectation& e) {
    std::string s;
    for (int status : e.statuses)
        s += std::to_string(status) + " ";
    return s + (e.close ? "close" : "keep-alive");
}

bool parse_case(const std::string& text, Case* out, std::string* error) {
    if (text.find('\r') != std::string::npos) {
        *error = "the file holds a CR (CRLF line endings?): write CR as \\r";
        return false;
    }
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);

    bool in_bytes = false;
    bool have_expect = false;
    for (size_t n = 0; n < lines.size(); ++n) {
        const std::string& line = lines[n];
        std::string why;
        if (in_bytes) {
            if (!append_bytes(line, &out->bytes, &why)) {
                *error = "line " + std::to_string(n + 1) + ": " + why;
                return false;
            }
            continue;
        }
        if (line == "---") {
            in_bytes = true;
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const size_t colon = line.find(": ");
        const std::string key = colon == std::string::npos ? line : line.substr(0, colon);
        const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
        if (key == "rfc") {
            if (!starts_with(value, "RFC ") || value.find(" §") == std::string::npos) {
                why = "rfc: cites a section as 'RFC 9112 §6.3 ...'";
            } else {
                out->rfc.push_back(value);
            }
        } else if (key == "note") {
            out->notes.push_back(value);
        } else if (key == "expect") {
            if (have_expect) {
                why = "more than one expect: line";
            } else {
                have_expect = true;
                parse_expectation(value, &out->expect, &why);
            }
        } else {
            why = "unknown key '" + key + "' (rfc, note, expect; then a line '---')";
        }
        if (!why.empty()) {
            *error = "line " + std::to_string(n + 1) + ": " + why;
            return false;
        }
    }
    if (!in_bytes) {
        *error = "no '---' line before the request bytes";
    } else if (out->rfc.empty()) {
        *error = "no rfc: line (every case cites the section it tests)";
    } else if (!have_expect) {
        *error = "no expect: line";
    } else if (out->bytes.empty()) {
        *error = "no request bytes after '---'";
    } else {
        return true;
    }
    return false;
}

std::vector<Case> load_cases(const std::string& dir, std::vector<std::string>* errors) {
    std::vector<std::string> names;
    if (DIR* d = opendir(dir.c_str())) {
        while (const dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.size() > 5 && name.compare(name.size() - 5, 5, ".case") == 0) {
                names.push_back(name);
            }
        }
        closedir(d);
    } else {
        errors->push_back(dir + ": cannot open the cases directory");
    }
    std::sort(names.begin(), names.end());

    std::vector<Case> cases;
    for (const std::string& name : names) {
        Case c;
        c.name = name.substr(0, name.size() - 5);
        c.path = dir + "/" + name;
        std::ifstream file(c.path, std::ios::binary);
        std::ostringstream text;
        text << file.rdbuf();
        std::string error;
        if (!file || !parse_case(text.str(), &c, &error)) {
            errors->push_back(c.path + ": " + (error.empty() ? "cannot read" : error));
            continue;
        }
        const bool good_name = std::all_of(c.name.begin(), c.name.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
        });
        if (!good_name) {
            errors->push_back(c.path + ": name cases with a-z, 0-9 and '-' only");
            continue;
        }
        cases.push_back(std::move(c));
    }
    return cases;
}

}  // namespace nexure::test::conformance
