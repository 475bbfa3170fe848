// POST /echo-json over a real socket, built from net/json/'s API as the gateway's route is: the
// body validated and re-serialised with simdjson and JsonWriter, 400 with the parse error's
// position on bad JSON. Bodies small and large (stitched across 4 KiB receive buffers), chunked,
// pipelined, and one that ends at the very end of a receive buffer.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "net/json/body.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"

namespace nexure::net {
namespace {

class JsonEchoTest : public ServerTest {
  protected:
    void start_echo() {
        auto server = std::make_unique<Server>(test_config());
        server->post("/echo-json", [](const Request& req, http::Response& res) {
            if (!json::has_json_content_type(req)) {
                res.status(415).type("text/plain").body("send application/json\n");
                return;
            }
            json::Body body(req);
            // Whether the body was parsed where it was received (no copy): for the tests.
            res.header("X-Json-In-Place", body.in_place() ? "yes" : "no");
            http::JsonWriter out(res);
            if (json::Error e = body.write_to(out)) json::write_error(res, e);
        });
        start_server(std::move(server));
    }

    static std::string post(const std::string& body, const std::string& type = "application/json") {
        return "POST /echo-json HTTP/1.1\r\nHost: t\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
};

std::string invalid(const char* message, size_t position) {
    return std::string(R"({"error":"invalid JSON","message":")") + message + R"(","position":)" +
           std::to_string(position) + "}";
}

TEST_F(JsonEchoTest, ADocumentIsReserialisedFromWhereItWasReceived) {
    start_echo();
    const test::Response r = exchange(
        post(R"( { "id" : 7, "name" : "Ad\u00e9", "n" : [1e400, -0, 12345678901234567890123] } )"));
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.body,
              "{\"id\":7,\"name\":\"Ad\xC3\xA9\",\"n\":[1e400,-0,12345678901234567890123]}");
    // A small request leaves most of its 4 KiB receive buffer after the body.
    EXPECT_EQ(r.header("x-json-in-place"), "yes");
}

TEST_F(JsonEchoTest, BadJsonIs400WithThePositionAndTheConnectionGoesOn) {
    start_echo();
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post(R"({"a": [1, 2,, 3]})") + post("") + post("[1]", "text/plain") +
                           post(R"(["fine"])")));
    std::vector<test::Response> r;
    ASSERT_TRUE(c.read_responses(4, &r));
    EXPECT_EQ(r[0].status, 400);
    EXPECT_EQ(r[0].header("content-type"), "application/json");
    EXPECT_EQ(r[0].body, invalid(simdjson::error_message(simdjson::TAPE_ERROR), 12));
    EXPECT_EQ(r[1].status, 400);
    EXPECT_EQ(r[1].body, invalid(simdjson::error_message(simdjson::EMPTY), 0));
    EXPECT_EQ(r[2].status, 415);
    EXPECT_EQ(r[3].status, 200);
    EXPECT_EQ(r[3].body, R"(["fine"])");
}

// A document of 256 KiB spans 64 receive buffers: it is stitched, with room after it, and parsed
// there without another copy.
TEST_F(JsonEchoTest, ALargeBodyIsStitchedAndParsedInPlace) {
    start_echo();
    std::string doc = "[";
    std::string expected = "[";
    for (int i = 0; doc.size() < 256 * 1024; ++i) {
        const std::string n = std::to_string(i);
        doc += (i ? ", " : "") + std::string(R"({"i": )") + n + R"(, "big": 1)" + n +
               R"(000000000000000000000, "s": "\u00e9\n)" + n + R"("})";
        expected += (i ? "," : "") + std::string(R"({"i":)") + n + R"(,"big":1)" + n +
                    "000000000000000000000,\"s\":\"\xC3\xA9\\n" + n + "\"}";
    }
    doc += "]";
    expected += "]";
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post(doc)));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
    EXPECT_EQ(r.header("x-json-in-place"), "yes");

    // The same document spoilt far into it: the position is counted in the body.
    const size_t comma = doc.find("}, {", doc.size() / 2) + 1;
    doc[comma] = ';';
    ASSERT_TRUE(c.send_all(post(doc)));
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, invalid(simdjson::error_message(simdjson::TAPE_ERROR), comma));
}

// A chunked body of several chunks is de-chunked into one block with room after it: in place.
TEST_F(JsonEchoTest, AChunkedBodyIsDechunkedAndParsedInPlace) {
    start_echo();
    std::string doc = R"({"list": [)";
    for (int i = 0; i < 2000; ++i)
        doc += (i ? ", " : "") + std::to_string(i) + ".5";
    doc += R"(], "end": true})";
    std::string chunked =
        "POST /echo-json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < doc.size(); at += 1000) {
        const std::string piece = doc.substr(at, 1000);
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        chunked += size + piece + "\r\n";
    }
    chunked += "0\r\n\r\n";
    std::string expected = doc;
    for (size_t at; (at = expected.find(", ")) != std::string::npos;)
        expected.erase(at + 1, 1);
    for (size_t at; (at = expected.find(": ")) != std::string::npos;)
        expected.erase(at + 1, 1);
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    // In pieces that cut chunks and chunk-size lines alike.
    ASSERT_TRUE(c.send_in_pieces(chunked, 777));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
    EXPECT_EQ(r.header("x-json-in-place"), "yes");
}

// Pipelined requests: each body is followed by the next request's bytes, which the parser may
// load past the body but never takes as part of it.
TEST_F(JsonEchoTest, PipelinedBodiesAreEachTheirOwnDocument) {
    start_echo();
    const std::vector<std::string> docs = {R"({"a":1})", R"([1,2)", R"("x")", R"(]})",
                                           R"({"b":[true,null]})"};
    std::string all;
    for (const std::string& d : docs)
        all += post(d);
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(all));
    std::vector<test::Response> r;
    ASSERT_TRUE(c.read_responses(docs.size(), &r));
    EXPECT_EQ(r[0].body, R"({"a":1})");
    EXPECT_EQ(r[1].status, 400);
    EXPECT_TRUE(r[1].body.ends_with(R"(,"position":4})")) << r[1].body;  // its end
    EXPECT_EQ(r[2].body, R"("x")");
    EXPECT_EQ(r[3].status, 400);
    EXPECT_EQ(r[4].body, R"({"b":[true,null]})");
}

// A request of exactly one receive buffer (4 KiB): when a read holds all of it, its body ends at
// the buffer's end and is copied; when the read is cut, it is stitched. The answer is the same.
TEST_F(JsonEchoTest, ABodyThatEndsItsReceiveBufferIsAnsweredTheSame) {
    start_echo();
    std::string doc;
    std::string request;
    for (size_t filler = 0;; ++filler) {
        doc = R"({"fill":")" + std::string(filler, 'f') + R"("})";
        request = post(doc);
        if (request.size() >= 4096) break;
    }
    ASSERT_EQ(request.size(), 4096u);
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(request));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, doc);
}

}  // namespace
}  // namespace nexure::net
