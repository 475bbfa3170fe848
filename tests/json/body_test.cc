// json::Body (net/json/body.h): documents validated and re-serialised into a JsonWriter, errors
// with their positions, numbers kept as written, the depth bound, the thread's parser, and when a
// body is read in place rather than copied — directly and over RequestParser's requests.
#include "net/json/body.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/http/parser.h"

namespace nexure::net::json {
namespace {

struct Echoed {
    Error error;
    int status = 0;
    std::string body;     // what the Response holds: the document, or write_error()'s answer
    std::string failure;  // Response::error(): why it is a 500
    bool in_place = false;
};

// Re-serialises `text` as a handler would: Body, JsonWriter, write_error() on failure.
// `readable_after` bytes after the text are really there (the caller's buffer says so).
Echoed echo_view(std::string_view text, size_t readable_after) {
    http::Response res;
    Echoed r;
    {
        Body body(text, readable_after);
        http::JsonWriter out(res);
        r.error = body.write_to(out);
        r.in_place = body.in_place();
        if (r.error) write_error(res, r.error);
    }
    r.status = res.status_code();
    r.body = std::string(res.body_view());
    r.failure = std::string(res.error());
    return r;
}

Echoed echo(std::string_view text) {
    return echo_view(text, 0);
}

std::string reserialised(std::string_view text) {
    const Echoed r = echo(text);
    EXPECT_FALSE(r.error) << text << ": " << r.error.message() << " at " << r.error.position;
    EXPECT_EQ(r.status, 200);
    return r.body;
}

TEST(JsonBody, ReserialisesDocumentsWithoutInsignificantWhitespace) {
    EXPECT_EQ(reserialised(R"({"a":1})"), R"({"a":1})");
    EXPECT_EQ(reserialised(" {\n\t\"name\" : \"Ada\" ,\r\n \"tags\" : [ \"x\" , [ ] , { } ] } \n"),
              R"({"name":"Ada","tags":["x",[],{}]})");
    EXPECT_EQ(reserialised(R"([true,false,null,"",0,{"k":[{"deep":[1,[2,[3]]]}]}])"),
              R"([true,false,null,"",0,{"k":[{"deep":[1,[2,[3]]]}]}])");
    // Order and repeated keys are kept: the document is re-written, not rebuilt.
    EXPECT_EQ(reserialised(R"({"b":1,"a":2,"b":3})"), R"({"b":1,"a":2,"b":3})");
    // A scalar is a document too.
    EXPECT_EQ(reserialised(R"("just a string")"), R"("just a string")");
    EXPECT_EQ(reserialised(" 42 "), "42");
    EXPECT_EQ(reserialised("null"), "null");
    EXPECT_EQ(reserialised("true"), "true");
}

TEST(JsonBody, StringsAreUnescapedThenEscapedAgainByTheWriter) {
    // \u escapes become UTF-8 (a surrogate pair one 4-byte character), \/ a plain slash; what
    // JSON requires is escaped again: quotes, backslashes and control characters.
    EXPECT_EQ(reserialised(R"(["\u00e9\u20ac","\ud83d\ude00","\/","a\"b\\c","\n\t\u0001\u0000"])"),
              "[\"\xC3\xA9\xE2\x82\xAC\",\"\xF0\x9F\x98\x80\",\"/\",\"a\\\"b\\\\c\","
              "\"\\n\\t\\u0001\\u0000\"]");
    // Raw UTF-8 goes through as it is, in keys too.
    EXPECT_EQ(reserialised("{\"cl\xC3\xA9\":\"\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80\"}"),
              "{\"cl\xC3\xA9\":\"\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80\"}");
    EXPECT_EQ(reserialised(R"({"\u0041\"":"\u0042"})"), R"({"A\"":"B"})");
}

TEST(JsonBody, NumbersKeepTheDigitsTheyWereSentWith) {
    // Beyond 64 bits, beyond a double's range or precision, negative zero, exponents as written.
    EXPECT_EQ(reserialised("[123456789012345678901234567890,-98765432109876543210987654321]"),
              "[123456789012345678901234567890,-98765432109876543210987654321]");
    EXPECT_EQ(reserialised("[18446744073709551616,-9223372036854775809,1.5e999,-1e-999]"),
              "[18446744073709551616,-9223372036854775809,1.5e999,-1e-999]");
    EXPECT_EQ(reserialised("[-0,-0.0,0.1,2.50,1E+2,1e-7,6.02214076e23,0.30000000000000004]"),
              "[-0,-0.0,0.1,2.50,1E+2,1e-7,6.02214076e23,0.30000000000000004]");
    EXPECT_EQ(reserialised("-0"), "-0");
    EXPECT_EQ(reserialised("12345678901234567890123"), "12345678901234567890123");
}

struct Bad {
    std::string text;
    simdjson::error_code code;
    size_t position;
};

// Each bad document gets its error and the offset where the reading stopped, whether the text is
// read in place or copied, and a 400 that says both.
TEST(JsonBody, InvalidDocumentsReportWhereParsingFailed) {
    const std::vector<Bad> cases = {
        // Structure: the token that does not fit.
        {"[1 2]", simdjson::TAPE_ERROR, 3},
        {R"({"a" 1})", simdjson::TAPE_ERROR, 5},
        {R"({"a":1,})", simdjson::TAPE_ERROR, 7},
        {"[1,]", simdjson::TAPE_ERROR, 3},
        {"[1,,2]", simdjson::TAPE_ERROR, 3},
        {"{,}", simdjson::TAPE_ERROR, 1},
        {R"({"a":1 "b":2})", simdjson::TAPE_ERROR, 7},
        {R"({"a":+1})", simdjson::TAPE_ERROR, 5},
        // Scalars: the token's first byte.
        {"01", simdjson::NUMBER_ERROR, 0},
        {"[1.0e]", simdjson::NUMBER_ERROR, 1},
        {"[-]", simdjson::NUMBER_ERROR, 1},
        {"[1.]", simdjson::NUMBER_ERROR, 1},
        {"[0x10]", simdjson::NUMBER_ERROR, 1},
        {"[tru]", simdjson::T_ATOM_ERROR, 1},
        {"[truex]", simdjson::T_ATOM_ERROR, 1},
        {"[fals]", simdjson::F_ATOM_ERROR, 1},
        {"nullx", simdjson::N_ATOM_ERROR, 0},
        {R"({"a":[1,{"b":nulll}]})", simdjson::N_ATOM_ERROR, 13},
        {R"({"a":"x\q"})", simdjson::STRING_ERROR, 5},
        {R"(["ok","\ud800"])", simdjson::STRING_ERROR, 6},  // a lone surrogate
        {R"({"\udc00":1})", simdjson::STRING_ERROR, 1},
        // What simdjson's first pass finds: the byte itself, or the quote of an unclosed string.
        {"[\"ab\xFF\"]", simdjson::UTF8_ERROR, 4},
        {"[\"a\xC3\"]", simdjson::UTF8_ERROR, 3},
        {"[\"a\x01\"]", simdjson::UNESCAPED_CHARS, 3},
        {"[\"a\\\x01\"]", simdjson::UNESCAPED_CHARS, 4},
        {R"({"a":"bc)", simdjson::UNCLOSED_STRING, 5},
        // Something after the document.
        {"{}x", simdjson::TRAILING_CONTENT, 2},
        {"[] []", simdjson::TRAILING_CONTENT, 3},
        {R"({"a":1}})", simdjson::TRAILING_CONTENT, 7},
        {"123 x", simdjson::TRAILING_CONTENT, 4},
        {R"("abc" 1)", simdjson::TRAILING_CONTENT, 6},
    };
    for (const Bad& c : cases) {
        for (bool room : {false, true}) {
            std::string buffer = c.text + (room ? std::string(64, '\0') : "");
            const Echoed r =
                echo_view(std::string_view(buffer).substr(0, c.text.size()), room ? 64 : 0);
            EXPECT_EQ(r.in_place, room);
            EXPECT_EQ(r.error.code, c.code)
                << c.text << ": " << r.error.message() << " (" << int(r.error.code) << ")";
            EXPECT_EQ(r.error.position, c.position) << c.text;
            EXPECT_EQ(r.status, 400) << c.text;
            EXPECT_EQ(r.body, std::string(R"({"error":"invalid JSON","message":")") +
                                  simdjson::error_message(c.code) + R"(","position":)" +
                                  std::to_string(c.position) + "}")
                << c.text;
            EXPECT_EQ(r.failure, "");
        }
    }
}

// A document that ends too early fails at its end, whatever it was in the middle of (at the start
// of a scalar that the end cuts short).
TEST(JsonBody, TruncatedDocumentsFailAtTheirEnd) {
    const std::string whole = R"({"list":[1,{"k":"v"},[true,null]],"n":-1.5e3})";
    EXPECT_EQ(reserialised(whole), whole);
    for (size_t n = 1; n < whole.size(); ++n) {
        const std::string cut = whole.substr(0, n);
        const Echoed r = echo(cut);
        ASSERT_TRUE(r.error) << cut;
        EXPECT_EQ(r.status, 400) << cut;
        if (r.error.code == simdjson::UNCLOSED_STRING) {
            EXPECT_EQ(cut[r.error.position], '"') << cut;  // the quote never closed
        } else if (r.error.position < cut.size()) {
            // A scalar cut short ("tr", "-1."): at its first byte, and it runs to the end.
            EXPECT_EQ(cut.find_first_of(",:[]{}", r.error.position), std::string::npos)
                << cut << ": " << r.error.message() << " at " << r.error.position;
        } else {
            EXPECT_EQ(r.error.position, cut.size()) << cut << ": " << r.error.message();
        }
    }
}

TEST(JsonBody, AnEmptyBodyIsNoDocument) {
    for (const std::string text : {"", "   ", " \r\n\t"}) {
        const Echoed r = echo(text);
        EXPECT_EQ(r.error.code, simdjson::EMPTY) << '"' << text << '"';
        EXPECT_EQ(r.error.position, text.size());
        EXPECT_EQ(r.status, 400);
    }
}

// Random edits of valid documents (a fixed seed): whatever is accepted is written as a document
// that is accepted again and written the same (the output is valid JSON, and what the writer
// escapes reads back as the same strings); whatever is refused has a position within the text.
// (Checked once against Python's json module on 30,000 such edits: the same verdicts, but for
// lone surrogates, which simdjson refuses and Python takes.)
TEST(JsonBody, WhatIsAcceptedIsWrittenAsADocumentThatReadsTheSame) {
    const std::vector<std::string> seeds = {
        R"({"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\n","f":-1.5e-3}})",
        R"([1,2,3,[4,[5,{"x":"y"}]]])",
        R"({"k":"v","n":12345678901234567890,"z":0.0})",
        R"("str\"ing")",
        "123",
        "true",
        "[]",
        "{}",
        R"([{"a":[{"b":null}]}])"};
    const std::vector<std::string> pieces = {
        "{", "}", "[",  "]",  ",", ":",   "\"",       "\\",   " ",      "0", "1",
        "-", "+", ".",  "e",  "E", "t",   "r",        "u",    "f",      "a", "l",
        "s", "n", "\t", "\n", "x", "\\u", "\xC3\xA9", "\x01", "\\ud83d"};
    std::mt19937 random(17);
    const auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
    size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string doc = seeds[pick(seeds.size())];
        for (size_t edits = 1 + pick(3); edits > 0; --edits) {
            const size_t at = pick(doc.size() + 1);
            switch (pick(3)) {
                case 0:
                    doc.insert(at, pieces[pick(pieces.size())]);
                    break;
                case 1:
                    if (at < doc.size()) doc.erase(at, 1);
                    break;
                default:
                    if (at < doc.size()) doc.replace(at, 1, pieces[pick(pieces.size())]);
                    break;
            }
        }
        const Echoed first = echo(doc);
        if (first.error) {
            EXPECT_LE(first.error.position, doc.size()) << doc;
            EXPECT_EQ(first.status, 400) << doc;
            continue;
        }
        ++accepted;
        const Echoed again = echo(first.body);
        EXPECT_FALSE(again.error) << doc << " -> " << first.body << ": " << again.error.message();
        EXPECT_EQ(again.body, first.body) << doc;
    }
    EXPECT_GT(accepted, 1000u);  // the edits leave enough valid documents to mean something
}

TEST(JsonBody, NestingIsBoundedByTheWritersDepth) {
    const auto nested = [](unsigned depth, const char* open, const char* close) {
        std::string s;
        for (unsigned i = 0; i < depth; ++i)
            s += open;
        s += "1";
        for (unsigned i = 0; i < depth; ++i)
            s += close;
        return s;
    };
    const std::string deepest = nested(Body::kMaxDepth, "[", "]");
    EXPECT_EQ(reserialised(deepest), deepest);
    const std::string objects = nested(Body::kMaxDepth, "{\"k\":", "}");
    EXPECT_EQ(reserialised(objects), objects);
    // One more level: refused at the bracket that opens it, by validate() as by write_to().
    for (const std::string& text :
         {nested(Body::kMaxDepth + 1, "[", "]"), nested(Body::kMaxDepth + 1, "{\"k\":", "}")}) {
        const Echoed r = echo(text);
        EXPECT_EQ(r.error.code, simdjson::DEPTH_ERROR);
        EXPECT_EQ(r.error.position, text.find_last_of("[{"));
        Body body(text, 0);
        const Error e = body.validate();
        EXPECT_EQ(e.code, simdjson::DEPTH_ERROR);
        EXPECT_EQ(e.position, text.find_last_of("[{"));
    }
    // Far deeper than that (simdjson's own limit is 1024): the same, without going there.
    const std::string abyss = nested(100000, "[", "]");
    EXPECT_EQ(echo(abyss).error.code, simdjson::DEPTH_ERROR);
}

TEST(JsonBody, ValidateChecksEverythingAndLeavesTheDocumentToRead) {
    {
        Body body(R"({"name":"Ada","skip":[1,{"x":tru}],"age":36})", 0);
        ASSERT_TRUE(body.ok());
        // Reading "age" alone would skip "skip" without looking inside: validate() looks.
        int64_t age = 0;
        EXPECT_EQ(body.document()["age"].get_int64().get(age), simdjson::SUCCESS);
        const Error e = body.validate();
        EXPECT_EQ(e.code, simdjson::T_ATOM_ERROR);
        EXPECT_EQ(e.position, 29u);
    }

    Body good(R"({"name":"Ada","tags":["a","b"],"age":36})", 0);
    ASSERT_FALSE(good.validate());
    // Rewound: read from the start.
    std::string_view name;
    ASSERT_EQ(good.document()["name"].get_string().get(name), simdjson::SUCCESS);
    EXPECT_EQ(name, "Ada");
    int64_t age = 0;
    ASSERT_EQ(good.document()["age"].get_int64().get(age), simdjson::SUCCESS);
    EXPECT_EQ(age, 36);
}

TEST(JsonBody, LocateGivesWhereTheHandlersOwnReadingStopped) {
    Body body(R"({"name":"Ada","age":"old"})", 0);
    ASSERT_TRUE(body.ok());
    int64_t age = 0;
    const simdjson::error_code code = body.document()["age"].get_int64().get(age);
    ASSERT_EQ(code, simdjson::INCORRECT_TYPE);
    const Error e = body.locate(code);
    EXPECT_EQ(e.code, simdjson::INCORRECT_TYPE);
    EXPECT_EQ(e.position, 20u);  // "old"
}

// simdjson reads past the end of its input: in place only with 64 readable bytes after it,
// otherwise from the thread's padded copy — the same copy buffer for every body that fits it.
TEST(JsonBody, ReadsInPlaceOnlyWithRoomAfterTheText) {
    const std::string doc = R"({"a":[1,2,3]})";
    // Bytes after the document that would change it if they were read as part of it.
    const std::string buffer = doc + "]}\"x\\" + std::string(64, '9');
    for (size_t room : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, buffer.size() - doc.size()}) {
        const std::string_view text(buffer.data(), doc.size());
        Body body(text, room);
        ASSERT_TRUE(body.ok());
        EXPECT_EQ(body.in_place(), room >= simdjson::SIMDJSON_PADDING) << room;
        EXPECT_EQ(body.text().data() == text.data(), body.in_place());
        EXPECT_EQ(body.text(), doc);
        EXPECT_FALSE(body.validate());
        http::Response res;
        {
            http::JsonWriter out(res);
            EXPECT_FALSE(body.write_to(out));
        }
        EXPECT_EQ(res.body_view(), doc);
    }
    const char* copy = nullptr;
    for (const std::string text : {"[1]", R"({"longer":"document than the first one"})", "2"}) {
        Body body(text, 0);
        EXPECT_FALSE(body.in_place());
        if (copy != nullptr) {
            EXPECT_EQ(body.text().data(), copy);  // reused, not reallocated
        }
        copy = body.text().data();
    }
}

TEST(JsonBody, LargeDocumentsParseAndTheThreadsParserGoesOnWorking) {
    std::string big = "[";
    for (int i = 0; i < 48000; ++i)
        big += (i ? "," : "") + std::string(R"({"i":)") + std::to_string(i) + R"(,"s":"\u00e9"})";
    big += "]";
    ASSERT_GT(big.size(), size_t{1} << 20);
    std::string expected = big;
    for (size_t at; (at = expected.find("\\u00e9")) != std::string::npos;)
        expected.replace(at, 6, "\xC3\xA9");
    EXPECT_EQ(reserialised(big), expected);
    const size_t comma = big.find("},{", big.size() / 2) + 1;
    big[comma] = '#';
    const Echoed bad = echo(big);
    EXPECT_EQ(bad.error.code, simdjson::TAPE_ERROR);
    EXPECT_EQ(bad.error.position, comma);
    EXPECT_EQ(reserialised(R"({"small":true})"), R"({"small":true})");
}

// One Body at a time per thread: a second one is a handler bug, answered 500.
TEST(JsonBody, ASecondBodyOnTheThreadIsRefusedUntilTheFirstEnds) {
    {
        Body first("[1]", 0);
        ASSERT_TRUE(first.ok());
        const Echoed second = echo("[2]");
        EXPECT_EQ(second.error.code, simdjson::PARSER_IN_USE);
        EXPECT_FALSE(second.error.bad_document());
        EXPECT_NE(second.failure.find("in use"), std::string::npos) << second.failure;
        EXPECT_FALSE(first.validate());
    }
    EXPECT_EQ(reserialised("[3]"), "[3]");
}

// Every thread has its own parser.
TEST(JsonBody, ThreadsParseAtTheSameTime) {
    Body here("[1]", 0);
    ASSERT_TRUE(here.ok());
    std::string there;
    std::thread t([&] { there = reserialised(R"({"other":"thread"})"); });
    t.join();
    EXPECT_EQ(there, R"({"other":"thread"})");
    EXPECT_FALSE(here.validate());
}

TEST(JsonBody, ContentTypeSaysJsonByMediaType) {
    const auto with_type = [](std::string_view type) {
        const std::string request =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: " + std::string(type) +
            "\r\nContent-Length: 2\r\n\r\n{}";
        struct Sink final : http::RequestSink {
            bool json = false;
            bool on_request(http::Request& r) noexcept override {
                json = has_json_content_type(r);
                return true;
            }
        } sink;
        http::ParseContext ctx(http::Limits{});
        http::RequestParser parser;
        parser.feed(ctx, request.data(), request.size(), sink);
        return sink.json;
    };
    EXPECT_TRUE(with_type("application/json"));
    EXPECT_TRUE(with_type("Application/JSON; charset=utf-8"));
    EXPECT_TRUE(with_type("application/problem+json"));
    EXPECT_TRUE(with_type("application/vnd.api+JSON ;x=1"));
    EXPECT_FALSE(with_type("text/plain"));
    EXPECT_FALSE(with_type("application/jsonx"));
    EXPECT_FALSE(with_type("application/x-www-form-urlencoded"));
    EXPECT_FALSE(with_type("+json"));
}

// Over RequestParser's requests: a body is read in place when its buffer has room after it —
// a read with room, stitched bytes, a de-chunked block — and copied only when it ends at the end
// of its buffer.
class ParsedBodies final : public http::RequestSink {
  public:
    struct Seen {
        bool in_place = false;
        std::string echoed;
    };
    std::vector<Seen> seen;
    bool on_request(http::Request& r) noexcept override {
        http::Response res;
        Seen s;
        {
            Body body(r);
            s.in_place = body.in_place();
            EXPECT_EQ(body.in_place(), body.text().data() == r.body().data());
            http::JsonWriter out(res);
            if (Error e = body.write_to(out)) write_error(res, e);
        }
        s.echoed = std::string(res.body_view());
        seen.push_back(std::move(s));
        return true;
    }
};

std::string post(std::string_view body) {
    return "POST /j HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + std::string(body);
}

// One read for RequestParser::feed(): its bytes, and how many readable bytes follow them.
struct Read {
    std::string_view bytes;
    size_t readable_after = 0;
};

// Feeds the reads to one parser; what ParsedBodies saw of each request.
std::vector<ParsedBodies::Seen> parse(std::initializer_list<Read> reads) {
    http::ParseContext ctx(http::Limits{});
    http::RequestParser parser;
    ParsedBodies sink;
    for (const Read& r : reads)
        parser.feed(ctx, r.bytes.data(), r.bytes.size(), sink, r.readable_after);
    return std::move(sink.seen);
}

TEST(JsonBody, RequestBodiesAreReadInPlaceWhenTheirBufferAllowsIt) {
    const std::string request = post(R"({"a": [1, "two"]})");
    const std::string echoed = R"({"a":[1,"two"]})";
    // One read: a receive buffer of 4 KiB with the request at its start has room after it.
    const std::string buffer = request + std::string(4096 - request.size(), '\0');
    std::vector<ParsedBodies::Seen> seen =
        parse({{std::string_view(buffer).substr(0, request.size()), 4096 - request.size()}});
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(seen[0].in_place);
    EXPECT_EQ(seen[0].echoed, echoed);
    // The body at the very end of its buffer: copied.
    seen = parse({{request, 0}});
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_FALSE(seen[0].in_place);
    EXPECT_EQ(seen[0].echoed, echoed);
    // Pipelined: the next request's bytes follow the first body (64 of them at least), which is
    // read in place without them; the second ends its buffer.
    const std::string second = post(R"([" ]}\"x", 2, "and enough bytes to pass 64"])");
    ASSERT_GE(second.size(), 64u);
    const std::string two = request + second;
    seen = parse({{two, 0}});
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_TRUE(seen[0].in_place);
    EXPECT_EQ(seen[0].echoed, echoed);
    EXPECT_FALSE(seen[1].in_place);
    EXPECT_EQ(seen[1].echoed, R"([" ]}\"x",2,"and enough bytes to pass 64"])");
    // Spanning reads, cut anywhere: the stitched bytes keep room, in place every time.
    for (size_t cut = 1; cut < request.size(); ++cut) {
        const std::string first = request.substr(0, cut);
        const std::string rest = request.substr(cut);
        seen = parse({{first, 0}, {rest, 0}});
        ASSERT_EQ(seen.size(), 1u) << cut;
        EXPECT_TRUE(seen[0].in_place) << cut;
        EXPECT_EQ(seen[0].echoed, echoed) << cut;
    }
    // Chunked in several chunks: de-chunked into a block with room, in place.
    const std::string chunked =
        "POST /j HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\n{\"a\": \r\n5\r\n[1, \"\r\n6\r\ntwo\"]}\r\n0\r\n\r\n";
    seen = parse({{chunked, 0}});
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(seen[0].in_place);
    EXPECT_EQ(seen[0].echoed, echoed);
}

}  // namespace
}  // namespace nexure::net::json
