// The example services of examples/cpp/ run as a user would: started on a free port, exercised
// over sockets, stopped with SIGTERM. backend_service.cc answers from a thread pool through a
// Later (with a deadline on the worker's loop); report_stream.cc streams a generated CSV report.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/service_example.h"
#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace nexure::test {
namespace {

using namespace std::chrono_literals;

TEST_F(ServiceExample, BackendAnswersComeFromThePoolAndTheDeadlineAnswers504) {
    run(NEXURE_EXAMPLE_BACKEND_BIN);
    if (HasFatalFailure() || IsSkipped()) return;
    const Response r = exchange(get_request("/price/apple"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body.rfind(R"({"item":"apple","price":)", 0), 0u) << r.body;
    // The coroutine handler gives the same answer.
    const Response quote = exchange(get_request("/quote/apple"));
    EXPECT_EQ(quote.status, 200);
    EXPECT_EQ(quote.header("Content-Type"), "application/json");
    EXPECT_EQ(quote.body, r.body);
    // Backend calls slower than the service's 1 s deadline, and a health check meanwhile.
    HttpClient slow;
    ASSERT_TRUE(slow.connect(port_));
    ASSERT_TRUE(slow.send_all(get_request("/price/slowpoke")));
    HttpClient slow_quote;
    ASSERT_TRUE(slow_quote.connect(port_));
    ASSERT_TRUE(slow_quote.send_all(get_request("/quote/slowpoke")));
    EXPECT_EQ(exchange(get_request("/health")).body, "ok\n");
    EXPECT_EQ(slow.unread_bytes(), 0);
    for (HttpClient* c : {&slow, &slow_quote}) {
        Response late;
        ASSERT_TRUE(c->read_response(&late));
        EXPECT_EQ(late.status, 504);
        EXPECT_EQ(late.body, R"({"error":"backend timeout"})");
    }
    stop_with_sigterm();
}

TEST_F(ServiceExample, AReportStreamsAsManyRowsAsAskedInBoundedMemory) {
    NEXURE_NO_ASAN_QUARANTINE_FOR_CHILDREN();
    run(NEXURE_EXAMPLE_REPORT_BIN);
    if (HasFatalFailure() || IsSkipped()) return;
    const Response small = exchange(get_request("/report?rows=3"));
    EXPECT_EQ(small.status, 200);
    EXPECT_EQ(small.header("Content-Type"), "text/csv");
    EXPECT_EQ(small.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(small.body.substr(0, small.body.find('\n')), "id,name,quantity,price");
    EXPECT_EQ(std::count(small.body.begin(), small.body.end(), '\n'), 4);
    EXPECT_EQ(exchange(get_request("/report?rows=lots")).status, 400);

    // Five million rows (~130 MB), read without keeping them: the server's memory stays flat.
    const long before = rss_kib(process_.pid());
    HttpClient c;
    ASSERT_TRUE(c.connect(port_));
    ASSERT_TRUE(c.send_all(get_request("/report?rows=5000000")));
    std::string tail;
    long max_rss = before;
    uint64_t bytes = 0;
    std::vector<char> buf(1 << 20);
    while (tail.find("\r\n0\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(c.fd(), buf.data(), buf.size(), 0);
        ASSERT_GT(n, 0) << "after " << bytes << " bytes";
        bytes += static_cast<uint64_t>(n);
        tail.append(buf.data(), static_cast<size_t>(n));
        if (tail.size() > 64) tail.erase(0, tail.size() - 64);
        if (bytes % (16u << 20) < static_cast<uint64_t>(n)) {
            max_rss = std::max(max_rss, rss_kib(process_.pid()));
        }
    }
    EXPECT_GT(bytes, 100'000'000u);
    EXPECT_NE(tail.find("5000000,"), std::string::npos) << tail;  // the last row arrived
    ASSERT_GT(before, 0);
    RecordProperty("server_rss_growth_kib", std::to_string(max_rss - before));
    EXPECT_LT(max_rss - before, 16 * 1024) << before << " KiB -> " << max_rss << " KiB";
    stop_with_sigterm();
}

}  // namespace
}  // namespace nexure::test
