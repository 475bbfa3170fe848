#include "net/http/response.h"

#include <gtest/gtest.h>

#include <string>

#include "net/http/status.h"
#include "net/later.h"
#include "net/stream.h"
#include "net/upgrade.h"

namespace nexure::net::http {
namespace {

TEST(HttpResponse, DefaultsToAnEmpty200) {
    Response res;
    res.reset();
    EXPECT_EQ(res.status_code(), 200);
    EXPECT_EQ(res.body_view(), "");
    EXPECT_EQ(res.content_type(), "");
    EXPECT_EQ(res.header_lines(), "");
    EXPECT_FALSE(res.wants_close());
    EXPECT_EQ(res.error(), "");
}

TEST(HttpResponse, HeadersAreFormattedAsLinesInOrder) {
    Response res;
    res.reset();
    res.header("X-One", "1").header("Cache-Control", "no-store, max-age=0").header("X-Empty", "");
    EXPECT_EQ(res.header_lines(),
              "X-One: 1\r\nCache-Control: no-store, max-age=0\r\nX-Empty: \r\n");
    EXPECT_EQ(res.error(), "");
}

TEST(HttpResponse, TypeSetsContentTypeOutsideTheHeaderLines) {
    Response res;
    res.reset();
    res.type("text/plain");
    EXPECT_EQ(res.content_type(), "text/plain");
    res.type("application/json; charset=utf-8");
    EXPECT_EQ(res.content_type(), "application/json; charset=utf-8") << "type() replaces";
    res.header("content-type", "text/html");
    EXPECT_EQ(res.content_type(), "text/html") << "a Content-Type header is the same as type()";
    EXPECT_EQ(res.header_lines(), "");
}

TEST(HttpResponse, LongContentTypeIsKept) {
    Response res;
    res.reset();
    const std::string long_type =
        "application/vnd.example+json; profile=\"" + std::string(300, 'p') + "\"";
    res.type(long_type);
    EXPECT_EQ(res.content_type(), long_type);
    res.type("text/plain");
    EXPECT_EQ(res.content_type(), "text/plain");
}

// A coroutine handler's own Response becomes the worker's answer by swap() (net/coro_handler.cc):
// everything a handler wrote changes sides, content types kept in the inline storage or in the
// long string alike, and the responders stay where they were.
struct NoResponder final : Responder {
    Later defer() noexcept override { return {}; }
    Stream stream(const Response&, BodyFraming, uint64_t) noexcept override { return {}; }
    bool upgrade(const Response&, UniqueFunction<void(Upgraded)>) noexcept override {
        return false;
    }
};

TEST(HttpResponse, SwapExchangesWhatBothHold) {
    Response a;
    Response b;
    a.reset();
    b.reset();
    NoResponder responder;
    a.set_responder(&responder);
    const std::string long_type =
        "application/vnd.example+json; profile=\"" + std::string(150, 'p') + "\"";
    a.status(201).type("text/plain").header("X-A", "1").body("from a").close();
    b.type(long_type).header("X-B", "2").body("from b").status(999);  // an error
    a.swap(b);
    EXPECT_EQ(a.status_code(), 200);
    EXPECT_EQ(a.content_type(), long_type);
    EXPECT_EQ(a.header_lines(), "X-B: 2\r\n");
    EXPECT_EQ(a.body_view(), "from b");
    EXPECT_FALSE(a.wants_close());
    EXPECT_NE(a.error(), "");
    EXPECT_EQ(b.status_code(), 201);
    EXPECT_EQ(b.content_type(), "text/plain");
    EXPECT_EQ(b.header_lines(), "X-A: 1\r\n");
    EXPECT_EQ(b.body_view(), "from a");
    EXPECT_TRUE(b.wants_close());
    EXPECT_EQ(b.error(), "");
    EXPECT_EQ(a.responder(), &responder);  // who may take the answer stays with the object
    EXPECT_EQ(b.responder(), nullptr);
    // Both inline, one empty, and back: each view follows its bytes.
    Response c;
    c.reset();
    c.type("text/csv");
    b.swap(c);
    EXPECT_EQ(b.content_type(), "text/csv");
    EXPECT_EQ(c.content_type(), "text/plain");
    Response empty;
    empty.reset();
    c.swap(empty);
    EXPECT_EQ(c.content_type(), "");
    EXPECT_EQ(empty.content_type(), "text/plain");
    b.type("text/html");  // b's storage is its own again after the swaps
    EXPECT_EQ(b.content_type(), "text/html");
    EXPECT_EQ(empty.content_type(), "text/plain");
}

TEST(HttpResponse, BodyReplacesAndAppendAdds) {
    Response res;
    res.reset();
    res.body("Hello");
    res.append(", ").append("World!");
    EXPECT_EQ(res.body_view(), "Hello, World!");
    res.body("new");
    EXPECT_EQ(res.body_view(), "new");
    const std::string big(100'000, 'b');
    res.append(big);
    EXPECT_EQ(res.body_view().size(), 100'003u);
    res.body("");
    EXPECT_EQ(res.body_view(), "");
}

TEST(HttpResponse, StatusIsSet) {
    Response res;
    res.reset();
    res.status(404);
    EXPECT_EQ(res.status_code(), 404);
    res.status(100);
    EXPECT_EQ(res.status_code(), 100);
    res.status(599);
    EXPECT_EQ(res.status_code(), 599);
    EXPECT_EQ(res.error(), "");
}

TEST(HttpResponse, StatusOutOfRangeIsAnError) {
    for (int bad : {0, 99, 600, 1000, -200}) {
        Response res;
        res.reset();
        res.status(bad);
        EXPECT_NE(res.error(), "") << bad;
        EXPECT_NE(res.error().find(std::to_string(bad)), std::string_view::npos) << res.error();
        EXPECT_EQ(res.status_code(), 200) << "the status is left unchanged";
    }
}

TEST(HttpResponse, HeaderValueWithCrOrLfIsAnError) {
    for (const std::string_view value :
         {std::string_view("a\r\nInjected: yes"), std::string_view("a\nb"),
          std::string_view("a\rb"), std::string_view("a\0b", 3)}) {
        Response res;
        res.reset();
        res.header("X-Bad", value);
        EXPECT_NE(res.error(), "");
        EXPECT_NE(res.error().find("X-Bad"), std::string_view::npos) << res.error();
        EXPECT_EQ(res.header_lines(), "") << "nothing of the bad header is written";
    }
}

TEST(HttpResponse, InvalidHeaderNameIsAnError) {
    for (const char* name : {"", "Bad Name", "Colon:", "Tab\tName", "Line\r\nBreak", "(paren)"}) {
        Response res;
        res.reset();
        res.header(name, "v");
        EXPECT_NE(res.error(), "") << "'" << name << "'";
        EXPECT_EQ(res.header_lines(), "");
    }
}

TEST(HttpResponse, ContentTypeWithCrLfIsAnError) {
    Response res;
    res.reset();
    res.type("text/plain\r\nX-Injected: 1");
    EXPECT_NE(res.error(), "");
}

TEST(HttpResponse, SettingContentLengthOrTransferEncodingIsAnError) {
    for (const char* name :
         {"Content-Length", "content-length", "Transfer-Encoding", "TRANSFER-ENCODING"}) {
        Response res;
        res.reset();
        res.header(name, "5");
        EXPECT_NE(res.error(), "") << name;
        EXPECT_NE(res.error().find(name), std::string_view::npos) << res.error();
        EXPECT_EQ(res.header_lines(), "");
    }
}

TEST(HttpResponse, ConnectionCloseHeaderRequestsClose) {
    Response res;
    res.reset();
    res.header("Connection", "close");
    EXPECT_TRUE(res.wants_close());
    EXPECT_EQ(res.header_lines(), "") << "the engine writes Connection itself";
    EXPECT_EQ(res.error(), "");

    Response res2;
    res2.reset();
    res2.header("connection", "Close");
    EXPECT_TRUE(res2.wants_close());

    Response keep;
    keep.reset();
    keep.header("Connection", "keep-alive");
    EXPECT_FALSE(keep.wants_close());
    EXPECT_EQ(keep.header_lines(), "");
}

TEST(HttpResponse, CloseRequestsClose) {
    Response res;
    res.reset();
    res.close();
    EXPECT_TRUE(res.wants_close());
}

TEST(HttpResponse, ResetClearsEverything) {
    Response res;
    res.reset();
    res.status(201).type("text/csv").header("X-A", "1").body("data").close();
    res.header("Bad", "\n");
    ASSERT_NE(res.error(), "");
    res.reset();
    EXPECT_EQ(res.status_code(), 200);
    EXPECT_EQ(res.content_type(), "");
    EXPECT_EQ(res.header_lines(), "");
    EXPECT_EQ(res.body_view(), "");
    EXPECT_FALSE(res.wants_close());
    EXPECT_EQ(res.error(), "");
}

TEST(HttpStatus, StatusLinesAndReasonPhrases) {
    EXPECT_EQ(status_line(200), "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(status_line(404), "HTTP/1.1 404 Not Found\r\n");
    EXPECT_EQ(status_line(100), "HTTP/1.1 100 Continue\r\n");
    EXPECT_EQ(status_line(599), "HTTP/1.1 599 Unknown\r\n");
    EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
    EXPECT_EQ(reason_phrase(299), "Unknown");
}

}  // namespace
}  // namespace nexure::net::http
