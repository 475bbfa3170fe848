// nexload's command line: durations, the wrk-like flags, the URL forms, the request they make,
// and errors that name the flag at fault.
#include "bench/load/options.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nexure::load {
namespace {

// A file that is removed when the test ends.
class TempFile {
  public:
    TempFile(const std::string& name, const std::string& contents)
        : path_(std::filesystem::temp_directory_path() /
                ("nexload-options-" + std::to_string(::getpid()) + "-" + name)) {
        std::ofstream(path_, std::ios::binary) << contents;
    }
    ~TempFile() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

LoadOptions parsed(const std::vector<std::string>& args) {
    Result<LoadOptions> r = parse_load_options(args);
    if (!r.ok()) {
        ADD_FAILURE() << "refused: " << r.error().message;
        return LoadOptions{};
    }
    return std::move(r).value();
}

bool mentions(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
}

std::string lower(std::string text) {
    for (char& ch : text)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return text;
}

// Whether `args` are refused with a message that mentions `what` (ignoring case).
::testing::AssertionResult refused_naming(const std::vector<std::string>& args,
                                          const std::string& what) {
    std::string joined;
    for (const std::string& a : args)
        joined += " " + a;
    Result<LoadOptions> r = parse_load_options(args);
    if (r.ok()) return ::testing::AssertionFailure() << "accepted:" << joined;
    if (!mentions(lower(r.error().message), lower(what))) {
        return ::testing::AssertionFailure()
               << "refused" << joined << " with \"" << r.error().message
               << "\", which does not name " << what;
    }
    return ::testing::AssertionSuccess();
}

TEST(ParseDuration, PlainNumbersAreSecondsAndUnitsScale) {
    const std::vector<std::pair<std::string, double>> cases = {
        {"10", 10}, {"10s", 10}, {"500ms", 0.5}, {"2m", 120}, {"1h", 3600}, {"0.25s", 0.25}};
    for (const auto& [text, seconds] : cases) {
        Result<double> d = parse_duration(text);
        ASSERT_TRUE(d.ok()) << text << ": " << d.error().message;
        EXPECT_DOUBLE_EQ(d.value(), seconds) << text;
    }
}

TEST(ParseDuration, RefusesWhatIsNotADuration) {
    for (const char* text : {"", "-1", "5x", "s", "ms"}) {
        Result<double> d = parse_duration(text);
        EXPECT_FALSE(d.ok()) << "'" << text << "' gave " << (d.ok() ? d.value() : 0);
    }
}

TEST(ParseLoadOptions, DefaultsWithOnlyAUrl) {
    const LoadOptions o = parsed({"http://127.0.0.1:8080/"});
    EXPECT_EQ(o.threads, 2u);
    EXPECT_EQ(o.connections, 10u);
    EXPECT_DOUBLE_EQ(o.duration_s, 10);
    EXPECT_EQ(o.max_requests, 0u);
    EXPECT_EQ(o.pipeline, 1u);
    EXPECT_DOUBLE_EQ(o.rate, 0);
    EXPECT_EQ(o.method, "GET");
    EXPECT_TRUE(o.headers.empty());
    EXPECT_TRUE(o.body.empty());
    EXPECT_FALSE(o.latency);
    EXPECT_TRUE(o.json_path.empty());
    EXPECT_TRUE(o.pin);
    EXPECT_EQ(o.url, "http://127.0.0.1:8080/");
}

TEST(ParseLoadOptions, WrkLikeFlagsSetTheirFields) {
    const TempFile body("body", std::string("line one\nline two\0three", 23));
    // Laid out as one would type them.
    // clang-format off
    const LoadOptions o = parsed({
        "-t", "3", "-c", "12", "-d", "2m", "-n", "5000", "-R", "2500.5",
        "-H", "X-One: 1", "-m", "PUT", "-H", "X-Two: two words",
        "--pipeline", "8", "--body", body.path(), "--timeout", "3",
        "--latency", "--json", "/tmp/out.json", "--no-pin",
        "http://127.0.0.1:8080/x"});
    // clang-format on
    EXPECT_EQ(o.threads, 3u);
    EXPECT_EQ(o.connections, 12u);
    EXPECT_DOUBLE_EQ(o.duration_s, 120);
    EXPECT_EQ(o.max_requests, 5000u);
    EXPECT_DOUBLE_EQ(o.rate, 2500.5);
    EXPECT_EQ(o.headers, (std::vector<std::string>{"X-One: 1", "X-Two: two words"}));
    EXPECT_EQ(o.method, "PUT");
    EXPECT_EQ(o.pipeline, 8u);
    EXPECT_EQ(o.body, std::string("line one\nline two\0three", 23));  // the file's bytes, NUL too
    EXPECT_EQ(o.body_path, body.path());
    EXPECT_DOUBLE_EQ(o.timeout_s, 3);
    EXPECT_TRUE(o.latency);
    EXPECT_EQ(o.json_path, "/tmp/out.json");
    EXPECT_FALSE(o.pin);
}

TEST(ParseLoadOptions, DurationsAndTimeoutsTakeUnits) {
    const LoadOptions o =
        parsed({"-d", "500ms", "--timeout", "250ms", "-c", "2", "http://127.0.0.1:1/"});
    EXPECT_DOUBLE_EQ(o.duration_s, 0.5);
    EXPECT_DOUBLE_EQ(o.timeout_s, 0.25);
}

TEST(ParseLoadOptions, Ipv4UrlWithPortPathAndQuery) {
    const LoadOptions o = parsed({"http://127.0.0.1:8080/x?y=1"});
    EXPECT_EQ(o.target.host, "127.0.0.1");
    EXPECT_EQ(o.target.port, 8080);
    EXPECT_EQ(o.target.path, "/x?y=1");
    ASSERT_EQ(o.target.addr.ss_family, AF_INET);
    ASSERT_EQ(o.target.addr_len, sizeof(sockaddr_in));
    const auto* in = reinterpret_cast<const sockaddr_in*>(&o.target.addr);
    EXPECT_EQ(ntohs(in->sin_port), 8080);
    EXPECT_EQ(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
}

TEST(ParseLoadOptions, Ipv6LiteralInBrackets) {
    const LoadOptions o = parsed({"http://[::1]:9000/"});
    EXPECT_EQ(o.target.host, "::1");
    EXPECT_EQ(o.target.port, 9000);
    EXPECT_EQ(o.target.path, "/");
    ASSERT_EQ(o.target.addr.ss_family, AF_INET6);
    ASSERT_EQ(o.target.addr_len, sizeof(sockaddr_in6));
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&o.target.addr);
    EXPECT_EQ(ntohs(in6->sin6_port), 9000);
    EXPECT_EQ(std::memcmp(&in6->sin6_addr, &in6addr_loopback, sizeof(in6_addr)), 0);
}

TEST(ParseLoadOptions, NameWithoutPortIsResolvedOnPort80) {
    const LoadOptions o = parsed({"http://localhost/"});
    EXPECT_EQ(o.target.host, "localhost");
    EXPECT_EQ(o.target.port, 80);
    EXPECT_EQ(o.target.path, "/");
    ASSERT_TRUE(o.target.addr.ss_family == AF_INET || o.target.addr.ss_family == AF_INET6);
    EXPECT_GT(o.target.addr_len, 0u);
    const uint16_t port =
        o.target.addr.ss_family == AF_INET
            ? ntohs(reinterpret_cast<const sockaddr_in*>(&o.target.addr)->sin_port)
            : ntohs(reinterpret_cast<const sockaddr_in6*>(&o.target.addr)->sin6_port);
    EXPECT_EQ(port, 80);
}

TEST(ParseLoadOptions, PathDefaultsToSlash) {
    EXPECT_EQ(parsed({"http://127.0.0.1:8080"}).target.path, "/");
    EXPECT_EQ(parsed({"http://localhost"}).target.path, "/");
}

TEST(ParseLoadOptions, ErrorsNameTheFlag) {
    const std::string url = "http://127.0.0.1:8080/";
    EXPECT_TRUE(refused_naming({"-c", "4"}, "URL"));
    EXPECT_TRUE(refused_naming({"https://127.0.0.1:8443/"}, "https"));
    EXPECT_TRUE(refused_naming({"-t", "4", "-c", "2", url}, "-c"));
    EXPECT_TRUE(refused_naming({"-t", "0", "-c", "2", url}, "-t"));
    EXPECT_TRUE(refused_naming({"-t", "1", "-c", "0", url}, "-c"));
    EXPECT_TRUE(refused_naming({"--pipeline", "0", url}, "--pipeline"));
    EXPECT_TRUE(refused_naming({"-R", "-5", url}, "-R"));
    EXPECT_TRUE(refused_naming({"-d", "5x", url}, "-d"));
    EXPECT_TRUE(refused_naming({"-c", "many", url}, "-c"));
    EXPECT_TRUE(refused_naming({"--body", "/nonexistent/nexload-body", url}, "--body"));
    EXPECT_TRUE(refused_naming({"--frobnicate", url}, "--frobnicate"));
    EXPECT_TRUE(refused_naming({url, "-c"}, "-c"));  // its value is missing
    EXPECT_TRUE(refused_naming({url, "--json"}, "--json"));
}

TEST(BuildRequest, RequestLineHostHeadersLengthAndBody) {
    LoadOptions o = parsed({"-m", "POST", "-H", "X-A: b", "http://127.0.0.1:8080/p?q=1"});
    o.body = "hello";
    EXPECT_EQ(build_request(o),
              "POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: b\r\n"
              "Content-Length: 5\r\n\r\nhello");
}

TEST(BuildRequest, WithoutABodyThereIsNoContentLength) {
    const LoadOptions o = parsed({"http://127.0.0.1:8080/"});
    EXPECT_EQ(build_request(o), "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

TEST(BuildRequest, HostAndContentLengthFromDashHReplaceTheDefaults) {
    LoadOptions o = parsed({"-m", "POST", "-H", "Host: example.com", "-H", "Content-Length: 5",
                            "http://127.0.0.1:8080/"});
    o.body = "hello";
    EXPECT_EQ(build_request(o),
              "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello");
}

TEST(BuildRequest, HeaderNamesFromDashHMatchWhateverTheirCase) {
    const LoadOptions o = parsed({"-H", "host: example.com", "http://127.0.0.1:8080/"});
    EXPECT_EQ(build_request(o), "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
}

TEST(BuildRequest, Ipv6HostKeepsItsBrackets) {
    const LoadOptions o = parsed({"http://[::1]:9000/"});
    EXPECT_TRUE(mentions(build_request(o), "\r\nHost: [::1]:9000\r\n")) << build_request(o);
}

}  // namespace
}  // namespace nexure::load
