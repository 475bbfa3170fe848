// Form fields (net/http/form.h): query strings and application/x-www-form-urlencoded bodies,
// decoded into a region, with repeated names; and Request::form_fields() by Content-Type, through
// the parser.
#include "net/http/form.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "net/http/parser.h"
#include "net/http/percent.h"

namespace nexure::net::http {
namespace {

std::vector<std::pair<std::string, std::string>> all(FormFields f) {
    std::vector<std::pair<std::string, std::string>> out;
    for (FormField field; f.next(&field);)
        out.emplace_back(field.name, field.value);
    return out;
}

TEST(FormFields, PairsComeDecodedInOrderWithRepeatsAndBareNames) {
    alloc::ChunkCache cache;
    alloc::Region region(cache);
    const FormFields f("a=1&b=x+y%21&a=2&&flag&c%20d=%E2%82%AC&e=", &region);
    using P = std::pair<std::string, std::string>;
    EXPECT_EQ(all(f), (std::vector<P>{{"a", "1"},
                                      {"b", "x y!"},
                                      {"a", "2"},
                                      {"flag", ""},
                                      {"c d", "\xE2\x82\xAC"},
                                      {"e", ""}}));
    EXPECT_EQ(f.get("a"), "1");
    EXPECT_EQ(f.get("c d"), "\xE2\x82\xAC");
    EXPECT_EQ(f.get("missing"), std::nullopt);
    std::vector<std::string_view> as;
    EXPECT_EQ(f.get_all("a", &as), 2u);
    EXPECT_EQ(as, (std::vector<std::string_view>{"1", "2"}));
}

TEST(FormFields, AMalformedEscapeStaysAsWrittenLikeBrowsersDo) {
    alloc::ChunkCache cache;
    alloc::Region region(cache);
    const FormFields f("p=100%&q=%zz&r=%4", &region);
    EXPECT_EQ(f.get("p"), "100%");
    EXPECT_EQ(f.get("q"), "%zz");
    EXPECT_EQ(f.get("r"), "%4");
    char out[8];
    EXPECT_EQ(std::string_view(out, form_decode_to("a+b%2B", out)), "a b+");
}

TEST(FormFields, EmptyInputHasNoFields) {
    FormFields f;
    FormField field;
    EXPECT_FALSE(f.next(&field));
    EXPECT_TRUE(f.empty());
    EXPECT_EQ(f.get(""), std::nullopt);
}

// Hands each parsed request to a callback.
struct Each final : RequestSink {
    explicit Each(std::function<void(Request&)> f) : fn(std::move(f)) {}
    bool on_request(Request& r) noexcept override {
        fn(r);
        return true;
    }
    std::function<void(Request&)> fn;
};

TEST(FormFields, RequestsGiveTheirQueryAndAFormBodyByContentType) {
    ParseContext ctx(Limits{});
    RequestParser parser;
    std::vector<std::string> seen;
    Each sink([&](Request& r) {
        seen.push_back(std::string(r.query_fields().get("q").value_or("-")) + "|" +
                       std::string(r.form_fields().get("name").value_or("-")));
    });
    const std::string requests =
        "GET /s?q=hello+world&q=again HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /f HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded; "
        "charset=UTF-8\r\nContent-Length: 17\r\n\r\nname=Ada+L%2E&x=1"
        "POST /f HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\n"
        "name=Ada";
    EXPECT_EQ(parser.feed(ctx, requests.data(), requests.size(), sink).outcome,
              RequestParser::Outcome::kNeedMore);
    EXPECT_EQ(seen, (std::vector<std::string>{"hello world|-", "-|Ada L.", "-|-"}));
}

}  // namespace
}  // namespace nexure::net::http
