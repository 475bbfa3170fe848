// JsonWriter (net/http/json_writer.h): documents written into a Response, escaping (control
// characters, quotes, backslashes, invalid UTF-8), numbers, and misuse turned into a 500.
#include "net/http/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace nexure::net::http {
namespace {

TEST(JsonWriter, WritesNestedDocumentsWithCommasAndColonsInPlace) {
    Response res;
    {
        JsonWriter json(res);
        json.begin_object();
        json.key("id").value(42);
        json.key("name").value("Ada");
        json.key("tags").begin_array().value("a").value(uint64_t{18446744073709551615u}).null();
        json.begin_object().end_object().begin_array().end_array().end_array();
        json.key("ok").value(true);
        json.key("ratio").value(0.1);
        json.key("bad").value(std::nan(""));
        json.end_object();
        EXPECT_TRUE(json.ok()) << json.error();
    }
    EXPECT_EQ(res.content_type(), "application/json");
    EXPECT_EQ(res.body_view(),
              R"({"id":42,"name":"Ada","tags":["a",18446744073709551615,null,{},[]],)"
              R"("ok":true,"ratio":0.1,"bad":null})");
    EXPECT_TRUE(res.error().empty());
}

TEST(JsonWriter, EscapesWhatJsonRequiresAndReplacesInvalidUtf8) {
    Response res;
    {
        JsonWriter json(res);
        const std::string s = std::string("q\"b\\n\n\t\x01 \xE2\x82\xAC ok \xF0\x9F\x98\x80") +
                              "\xC3" /* cut */ + " \xC0\xAF" /* overlong */ +
                              " \xED\xA0\x80" /* surrogate */;
        json.value(s);
    }
    EXPECT_EQ(res.body_view(),
              "\"q\\\"b\\\\n\\n\\t\\u0001 \xE2\x82\xAC ok \xF0\x9F\x98\x80\xEF\xBF\xBD "
              "\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriter, MisuseBecomesA500WithTheReason) {
    const auto misuse = [](auto write) {
        Response res;
        {
            JsonWriter json(res);
            write(json);
        }
        return std::string(res.error());
    };
    EXPECT_NE(misuse([](JsonWriter& j) { j.begin_object().value(1); }).find("key is due"),
              std::string::npos);
    EXPECT_NE(misuse([](JsonWriter& j) { j.begin_array(); }).find("not complete"),
              std::string::npos);
    EXPECT_NE(misuse([](JsonWriter& j) { j.end_array(); }).find("end_array"), std::string::npos);
    EXPECT_NE(misuse([](JsonWriter& j) { j.value(1).value(2); }).find("second top-level"),
              std::string::npos);
    EXPECT_NE(misuse([](JsonWriter& j) {
                  for (unsigned i = 0; i <= JsonWriter::kMaxDepth; ++i)
                      j.begin_array();
              }).find("deeper"),
              std::string::npos);
    EXPECT_EQ(misuse([](JsonWriter& j) { j.begin_array().value(-5).end_array(); }), "");
}

// raw_number(): a number as JSON text, written as it is, any magnitude; anything else is misuse.
TEST(JsonWriter, RawNumbersAreWrittenAsTheirTextWhenTheyAreJsonNumbers) {
    for (const char* n :
         {"0", "-0", "12345678901234567890123", "-1.50", "1e400", "2E-7", "6.02e+23", "0.0"}) {
        EXPECT_TRUE(is_json_number(n)) << n;
    }
    for (const char* n : {"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "0x10", "1 ", " 1",
                          "NaN", "Infinity", "1.2.3", "--1", "1e5e5"}) {
        EXPECT_FALSE(is_json_number(n)) << '"' << n << '"';
    }
    Response res;
    {
        JsonWriter json(res);
        json.begin_array().raw_number("18446744073709551616").raw_number("-0.10").end_array();
    }
    EXPECT_EQ(res.body_view(), "[18446744073709551616,-0.10]");
    EXPECT_TRUE(res.error().empty());
    Response bad;
    {
        JsonWriter json(bad);
        json.begin_array().raw_number("1,2").end_array();
    }
    EXPECT_NE(bad.error().find("not a JSON number"), std::string::npos) << bad.error();
}

// abandon(): the writer stops, and leaves the Response to whoever answers instead.
TEST(JsonWriter, AnAbandonedDocumentLeavesTheResponseAlone) {
    Response res;
    {
        JsonWriter json(res);
        json.begin_object().key("half");
        json.abandon();
        json.value(1).end_object();  // ignored
        EXPECT_FALSE(json.ok());
        res.status(400).body("answered otherwise");
    }
    EXPECT_EQ(res.body_view(), "answered otherwise");
    EXPECT_EQ(res.status_code(), 400);
    EXPECT_TRUE(res.error().empty());
}

}  // namespace
}  // namespace nexure::net::http
