#include "tuning/report.h"

#include <algorithm>
#include <vector>

#include "tuning/root_fs.h"

namespace nexure::tuning {

namespace {

constexpr size_t kWidth = 100;
constexpr size_t kStatusColumn = 8;  // "STATUS" and two spaces
constexpr size_t kMaxNameColumn = 34;
constexpr size_t kNoteIndent = 8;

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
size_t utf8_sequence(std::string_view s) {
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;  // no overlong forms
        if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
    for (size_t i = 2; i < n; ++i) {
        if (b(i) < 0x80 || b(i) > 0xBF) return 0;
    }
    return n;
}

void append_string(std::string& out, std::string_view key, std::string_view value) {
    out += '"';
    out += key;
    out += "\": \"";
    append_json_escaped(out, value);
    out += '"';
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
    static const char kHex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < text.size()) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const size_t n = utf8_sequence(text.substr(i));
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
}

std::string wrap(std::string_view text, size_t first, size_t indent, size_t width) {
    std::string out;
    size_t column = first;
    bool line_empty = true;
    // Paragraphs (explicit newlines) are kept; each is wrapped on its own.
    while (true) {
        const size_t eol = text.find('\n');
        const std::string_view para = text.substr(0, eol);
        // A paragraph that starts with a space is preformatted (e.g. a limits.conf example):
        // kept exactly as it is.
        const bool preformatted = !para.empty() && para.front() == ' ';
        if (preformatted) {
            out.append(para);
            column += para.size();
            line_empty = false;
        }
        for (const std::string& word :
             preformatted ? std::vector<std::string>{} : split_words(para)) {
            if (!line_empty && column + 1 + word.size() > width) {
                out += '\n';
                out.append(indent, ' ');
                column = indent;
                line_empty = true;
            }
            if (!line_empty) {
                out += ' ';
                ++column;
            }
            out += word;
            column += word.size();
            line_empty = false;
        }
        if (eol == std::string_view::npos) break;
        text = text.substr(eol + 1);
        out += '\n';
        out.append(indent, ' ');
        column = indent;
        line_empty = true;
    }
    return out;
}

std::string format_table(const std::vector<Item>& items, std::string_view root) {
    size_t name_width = 4;  // "ITEM"
    size_t warnings = 0;
    for (const Item& item : items) {
        name_width = std::max(name_width, std::min(item.name.size(), kMaxNameColumn));
        if (item.status == Status::kWarn) ++warnings;
    }
    const size_t found_column = kStatusColumn + name_width + 2;
    std::string out = "nexure-tune check";
    if (root != "/") out += " (root " + std::string(root) + ")";
    out += ": " + std::to_string(items.size()) + " items, " + std::to_string(warnings) +
           " to look at\n\n";
    out += "STATUS  ITEM";
    out.append(name_width - 4 + 2, ' ');
    out += "FOUND\n";
    for (const Item& item : items) {
        std::string line = status_name(item.status);
        line.append(kStatusColumn - line.size(), ' ');
        line += item.name;
        if (item.name.size() <= name_width) {
            line.append(name_width - item.name.size() + 2, ' ');
        } else {
            line += '\n';
            line.append(found_column, ' ');
        }
        out += line;
        out += wrap(item.found, found_column, found_column, kWidth);
        out += '\n';
        for (const std::string& d : item.details) {
            out.append(kNoteIndent, ' ');
            out += "- ";
            out += wrap(d, kNoteIndent + 2, kNoteIndent + 2, kWidth);
            out += '\n';
        }
        out.append(kNoteIndent, ' ');
        out += "=> ";
        out += wrap(item.recommendation, kNoteIndent + 3, kNoteIndent + 3, kWidth);
        out += "\n";
    }
    out += "\nstatus: ";
    out += warnings == 0 ? "OK" : "WARN";
    out += warnings == 0 ? " (nothing to change)\n"
                         : " (" + std::to_string(warnings) + " of " + std::to_string(items.size()) +
                               " items to look at)\n";
    return out;
}

std::string format_json(const std::vector<Item>& items, std::string_view root) {
    size_t warnings = 0;
    for (const Item& item : items) {
        if (item.status == Status::kWarn) ++warnings;
    }
    std::string out = "{\n  ";
    append_string(out, "root", root);
    out += ",\n  ";
    append_string(out, "status", status_name(overall_status(items)));
    out += ",\n  \"counts\": {\"ok\": " + std::to_string(items.size() - warnings) +
           ", \"warn\": " + std::to_string(warnings) + "},\n  \"items\": [";
    for (size_t i = 0; i < items.size(); ++i) {
        const Item& item = items[i];
        out += i == 0 ? "\n    {\n      " : ",\n    {\n      ";
        append_string(out, "id", item.id);
        out += ",\n      ";
        append_string(out, "name", item.name);
        out += ",\n      ";
        append_string(out, "status", status_name(item.status));
        out += ",\n      ";
        append_string(out, "found", item.found);
        out += ",\n      ";
        append_string(out, "recommendation", item.recommendation);
        out += ",\n      \"details\": [";
        for (size_t d = 0; d < item.details.size(); ++d) {
            if (d != 0) out += ", ";
            out += '"';
            append_json_escaped(out, item.details[d]);
            out += '"';
        }
        out += "]\n    }";
    }
    out += items.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

}  // namespace nexure::tuning
