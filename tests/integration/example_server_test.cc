// The nexure-server example binary as a child process: its routes, its command line, its exit
// codes and its behaviour on SIGTERM and when io_uring is denied. NEXURE_SERVER_BIN names it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace nexure::test {
namespace {

using namespace std::chrono_literals;

std::string server_binary() {
    const char* bin = std::getenv("NEXURE_SERVER_BIN");
    return bin != nullptr ? bin : "";
}

#define REQUIRE_SERVER_BIN()                                                \
    do {                                                                    \
        if (server_binary().empty())                                        \
            GTEST_SKIP() << "NEXURE_SERVER_BIN is not set (run via ctest)"; \
    } while (0)

bool mentions(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
}

// Runs nexure-server on a free port with `extra` arguments and waits until it listens.
class ExampleServer {
  public:
    // `in_child` (optional) runs in the child before exec (async-signal-safe calls only).
    ::testing::AssertionResult start(std::vector<std::string> extra = {},
                                     std::function<void()> in_child = {}) {
        std::vector<std::string> argv = {server_binary(),      "--port", "0", "--threads", "1",
                                         "--drain-timeout-ms", "5000"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        ::testing::AssertionResult r = process.start(argv, std::move(in_child));
        if (!r) return r;
        port = process.wait_for_listening_port(deadline_in(kIoTimeout));
        if (port == 0) {
            return ::testing::AssertionFailure()
                   << "no 'listening on' line; stdout: '" << process.stdout_text() << "' stderr: '"
                   << process.stderr_text() << "' status: " << process.wait(deadline_in(1000ms));
        }
        return ::testing::AssertionSuccess();
    }

    Process process;
    uint16_t port = 0;
};

Response fetch(uint16_t port, const std::string& request) {
    HttpClient c;
    Response r;
    EXPECT_TRUE(c.connect(port));
    EXPECT_TRUE(c.send_all(request));
    EXPECT_TRUE(c.read_response(&r));
    return r;
}

TEST(ExampleServer, ServesItsRoutes) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());

    const Response root = fetch(s.port, get_request("/"));
    EXPECT_EQ(root.status, 200);
    EXPECT_EQ(root.body, "Hello, World!");
    EXPECT_EQ(root.header("Content-Type"), "text/plain");
    EXPECT_EQ(root.header("Content-Length"), "13");

    const Response plain = fetch(s.port, get_request("/plaintext"));
    EXPECT_EQ(plain.body, "Hello, World!");
    EXPECT_EQ(plain.header("Content-Type"), "text/plain");

    const Response json = fetch(s.port, get_request("/json"));
    EXPECT_EQ(json.body, R"({"message":"Hello, World!"})");
    EXPECT_EQ(json.header("Content-Type"), "application/json");

    const Response user = fetch(s.port, get_request("/users/42"));
    EXPECT_EQ(user.status, 200);
    EXPECT_EQ(user.body, R"({"id":"42"})");
    EXPECT_EQ(user.header("Content-Type"), "application/json");

    const Response quoted = fetch(s.port, get_request("/users/a%22b"));
    EXPECT_EQ(quoted.body, R"({"id":"a%22b"})");

    const Response echo = fetch(s.port,
                                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
                                "Content-Length: 5\r\n\r\na,b,c");
    EXPECT_EQ(echo.status, 200);
    EXPECT_EQ(echo.body, "a,b,c");
    EXPECT_EQ(echo.header("Content-Type"), "text/csv");

    const Response untyped =
        fetch(s.port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nraw");
    EXPECT_EQ(untyped.header("Content-Type"), "application/octet-stream");

    EXPECT_EQ(fetch(s.port, get_request("/missing")).status, 404);
    EXPECT_EQ(fetch(s.port, "DELETE /json HTTP/1.1\r\nHost: t\r\n\r\n").header("Allow"),
              "GET, HEAD, OPTIONS");

    ASSERT_TRUE(s.process.kill(SIGTERM));
    EXPECT_EQ(s.process.wait(deadline_in(kIoTimeout)).code, 0);
}

TEST(ExampleServer, HelpExitsZero) {
    REQUIRE_SERVER_BIN();
    Process p;
    ASSERT_TRUE(p.start({server_binary(), "--help"}));
    const ExitStatus st = p.wait(deadline_in(kIoTimeout));
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 0);
    EXPECT_TRUE(mentions(p.stdout_text(), "usage: nexure-server")) << p.stdout_text();
    EXPECT_TRUE(mentions(p.stdout_text(), "--port"));
}

TEST(ExampleServer, UnknownFlagExitsTwoWithAMessage) {
    REQUIRE_SERVER_BIN();
    Process p;
    ASSERT_TRUE(p.start({server_binary(), "--frobnicate"}));
    const ExitStatus st = p.wait(deadline_in(kIoTimeout));
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 2);
    EXPECT_TRUE(mentions(p.stderr_text(), "unknown option '--frobnicate'")) << p.stderr_text();
}

TEST(ExampleServer, BadFlagValuesExitTwo) {
    REQUIRE_SERVER_BIN();
    const std::vector<std::vector<std::string>> cases = {{"--port", "70000"},
                                                         {"--port", "-1"},
                                                         {"--port"},
                                                         {"--threads", "x"},
                                                         {"--ring-mode", "turbo"}};
    for (const auto& args : cases) {
        SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
        std::vector<std::string> argv = {server_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        Process p;
        ASSERT_TRUE(p.start(argv));
        const ExitStatus st = p.wait(deadline_in(kIoTimeout));
        EXPECT_TRUE(st.exited) << st;
        EXPECT_EQ(st.code, 2);
        EXPECT_TRUE(mentions(p.stderr_text(), args[0])) << p.stderr_text();
    }
}

TEST(ExampleServer, PortInUseExitsOneWithAMessage) {
    REQUIRE_SERVER_BIN();
    // Hold a port with a plain listening socket (no SO_REUSEPORT).
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string port = std::to_string(ntohs(addr.sin_port));

    Process p;
    ASSERT_TRUE(p.start({server_binary(), "--port", port, "--threads", "1"}));
    const ExitStatus st = p.wait(deadline_in(kIoTimeout));
    close(fd);
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 1);
    EXPECT_TRUE(mentions(p.stderr_text(), "in use")) << p.stderr_text();
    EXPECT_TRUE(mentions(p.stderr_text(), port)) << p.stderr_text();
}

TEST(ExampleServer, CoopRingModeServesRequests) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start({"--ring-mode", "coop"}));
    const std::string stdout_text = s.process.stdout_text();
    EXPECT_TRUE(mentions(stdout_text, "coop-taskrun")) << stdout_text;
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    std::string pipeline;
    for (int i = 0; i < 10; ++i)
        pipeline += get_request("/users/" + std::to_string(i));
    ASSERT_TRUE(c.send_all(pipeline));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(10, &rs));
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(rs[static_cast<size_t>(i)].body, R"({"id":")" + std::to_string(i) + "\"}");
    c.close();
    ASSERT_TRUE(s.process.kill(SIGTERM));
    EXPECT_EQ(s.process.wait(deadline_in(kIoTimeout)).code, 0);
}

TEST(ExampleServer, PlainRingModeServesRequests) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start({"--ring-mode", "plain"}));
    EXPECT_EQ(fetch(s.port, get_request("/")).body, "Hello, World!");
    ASSERT_TRUE(s.process.kill(SIGTERM));
    EXPECT_EQ(s.process.wait(deadline_in(kIoTimeout)).code, 0);
}

TEST(ExampleServer, SigtermWithARequestInFlightAnswersItThenExitsZero) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    ASSERT_TRUE(c.send_all(get_request("/users/1")));
    Response first;
    ASSERT_TRUE(c.read_response(&first));

    ASSERT_TRUE(c.send_all("GET /users/2 HTTP/1.1\r\nHost: t\r\nX-Part: "));
    ASSERT_TRUE(c.wait_until_delivered());
    // One worker handles completions in arrival order: once a later request is answered, the
    // half request has been parsed, so the signal finds it in flight.
    {
        HttpClient probe;
        ASSERT_TRUE(probe.connect(s.port));
        ASSERT_TRUE(probe.send_all(get_request("/")));
        Response pr;
        ASSERT_TRUE(probe.read_response(&pr));
    }
    const auto sent_at = Clock::now();
    ASSERT_TRUE(s.process.kill(SIGTERM));
    // The signal is handled asynchronously; draining has begun once the listener is closed.
    ASSERT_TRUE(wait_until_refused(s.port, deadline_in(kIoTimeout)));
    ASSERT_TRUE(c.send_all("rest\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"id":"2"})");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
    c.close();

    const ExitStatus st =
        s.process.wait(sent_at + 5000ms + 2000ms);  // the drain timeout, plus slack
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 0);
    EXPECT_TRUE(mentions(s.process.stdout_text(), "nexure-server stopped"));
}

TEST(ExampleServer, SigtermWhenIdleExitsZeroPromptly) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    // An idle keep-alive connection does not hold the shutdown up.
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    ASSERT_TRUE(c.send_all(get_request("/")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    ASSERT_TRUE(s.process.kill(SIGTERM));
    const ExitStatus st = s.process.wait(deadline_in(2000ms));
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 0);
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
}

TEST(ExampleServer, SigintAlsoStopsGracefully) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    ASSERT_TRUE(s.process.kill(SIGINT));
    const ExitStatus st = s.process.wait(deadline_in(2000ms));
    EXPECT_TRUE(st.exited) << st;
    EXPECT_EQ(st.code, 0);
}

#if defined(__x86_64__)
// A seccomp filter that fails io_uring_setup with EPERM and allows everything else, the way
// container runtimes' default profiles deny io_uring.
struct DenyIoUring {
    sock_filter code[7] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // another ABI: not our concern
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
};

TEST(ExampleServer, IoUringDeniedBySeccompExitsOneNamingTheCause) {
    REQUIRE_SERVER_BIN();
    DenyIoUring filter;  // built before fork: the child only makes two system calls
    Process p;
    ASSERT_TRUE(p.start({server_binary(), "--port", "0", "--threads", "1"}, [&filter] {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter.program) != 0) _exit(121);
    }));
    const ExitStatus st = p.wait(deadline_in(kIoTimeout));
    ASSERT_TRUE(st.exited) << st;
    ASSERT_NE(st.code, 120) << "prctl(PR_SET_NO_NEW_PRIVS) failed in the child";
    if (st.code == 121) GTEST_SKIP() << "this kernel does not allow seccomp filters here";
    EXPECT_EQ(st.code, 1) << "stderr: " << p.stderr_text();
    const std::string err = p.stderr_text();
    EXPECT_TRUE(mentions(err, "io_uring")) << err;
    EXPECT_TRUE(mentions(err, "seccomp")) << err;
    EXPECT_FALSE(mentions(p.stdout_text(), "listening")) << p.stdout_text();
}
#else
TEST(ExampleServer, IoUringDeniedBySeccompExitsOneNamingTheCause) {
    GTEST_SKIP() << "the seccomp filter in this test is written for x86-64";
}
#endif

// ---- resource exhaustion and recovery (issue 5) ------------------------------------------------

// The back-off itself (no accept re-armed at once, a retry 100 ms later) is checked without a
// clock in tests/net/worker_server_test.cc.
TEST(ExampleServer, OutOfDescriptorsItKeepsServingAndRecovers) {
    REQUIRE_SERVER_BIN();
    constexpr size_t kLimit = 256;
    ExampleServer s;
    ASSERT_TRUE(s.start({}, [] {
        const rlimit low{kLimit, kLimit};
        setrlimit(RLIMIT_NOFILE, &low);
    }));
    // One request served first. (Under UBSan the first virtual call of each type is checked by
    // probing memory through a pipe, which needs two descriptors: out of them, the check reports
    // a bad vptr where there is none, and -fno-sanitize-recover makes that fatal.)
    EXPECT_EQ(fetch(s.port, get_request("/")).status, 200);
    // More connections than the server has descriptors for: the kernel completes them all, the
    // server accepts until every descriptor it may have is in use and accept() fails with EMFILE.
    std::vector<HttpClient> clients(400);
    for (HttpClient& c : clients)
        ASSERT_TRUE(c.connect(s.port));
    EXPECT_TRUE(poll_until([&] { return descriptor_count(s.process.pid()) >= kLimit; },
                           deadline_in(10'000ms)))
        << "the server holds " << descriptor_count(s.process.pid()) << " descriptors";
    EXPECT_TRUE(s.process.running()) << s.process.stderr_text();
    // The last ones could not be accepted (the limit is real): their requests wait unanswered.
    Response stuck;
    ASSERT_TRUE(clients.back().send_all(get_request("/")));
    EXPECT_FALSE(clients.back().read_response(&stuck, deadline_in(300ms)));
    // The first ones it accepted are served.
    Response r;
    ASSERT_TRUE(clients[0].send_all(get_request("/")));
    ASSERT_TRUE(clients[0].read_response(&r));
    EXPECT_EQ(r.status, 200);
    // Once the clients go, it takes new connections again.
    clients.clear();
    const Deadline until = deadline_in(5000ms);
    bool served = false;
    while (!served && Clock::now() < until) {
        HttpClient c;
        Response again;
        served = c.connect(s.port) && c.send_all(get_request("/")) &&
                 c.read_response(&again, deadline_in(500ms)) && again.status == 200;
    }
    EXPECT_TRUE(served) << "no recovery after the clients closed";
    EXPECT_TRUE(s.process.running()) << s.process.stderr_text();
}

TEST(ExampleServer, TenThousandConnectCloseCyclesLeaveNoDescriptorsOrMemoryBehind) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    const pid_t pid = s.process.pid();
    auto cycle = [&s] {
        HttpClient c;
        Response r;
        return c.connect(s.port) && c.send_all(get_request("/")) && c.read_response(&r) &&
               r.status == 200;
    };
    const size_t fds_idle = descriptor_count(pid);
    for (int i = 0; i < 500; ++i)
        ASSERT_TRUE(cycle()) << "warm-up " << i;
    // The server closes its side as the clients go: the count is taken once it has (or, if the
    // warm-up left something open, once that is clear).
    size_t fds_before = 0;
    (void)wait_for_descriptors_at_most(fds_idle, deadline_in(kIoTimeout), pid, &fds_before);
    const long rss_before = rss_kib(pid);
    for (int i = 0; i < 10000; ++i)
        ASSERT_TRUE(cycle()) << "cycle " << i;
    size_t fds_after = 0;
    (void)wait_for_descriptors_at_most(fds_before, deadline_in(kIoTimeout), pid, &fds_after);
    const long rss_after = rss_kib(pid);
    RecordProperty("fds_before", std::to_string(fds_before));
    RecordProperty("fds_after", std::to_string(fds_after));
    RecordProperty("rss_kib_before", std::to_string(rss_before));
    RecordProperty("rss_kib_after", std::to_string(rss_after));
    EXPECT_EQ(fds_after, fds_before);
    ASSERT_GT(rss_before, 0);
    EXPECT_LT(rss_after - rss_before, 1024) << rss_before << " KiB -> " << rss_after << " KiB";
}

TEST(ExampleServer, TimeoutFlagsReachTheServer) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start({"--head-timeout-ms", "300", "--send-timeout-ms", "5000",
                         "--body-timeout-ms", "5000", "--min-body-rate", "100"}));
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    ASSERT_TRUE(c.send_all("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "));
    bool closed = false;
    const std::string got = c.read_until_eof(deadline_in(3000ms), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
}

// ---- the streamed and deferred routes (issue 16) --------------------------------------------

namespace routes {

// Reads a response head from `fd` (bytes after it stay in `rest`).
std::string read_head(int fd, std::string* rest) {
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return {};
        got.append(buf, static_cast<size_t>(n));
    }
    const size_t end = got.find("\r\n\r\n") + 4;
    *rest = got.substr(end);
    return got.substr(0, end);
}

}  // namespace routes

TEST(ExampleServer, AGibibyteStreamsThroughInBoundedServerMemory) {
    REQUIRE_SERVER_BIN();
    NEXURE_NO_ASAN_QUARANTINE_FOR_CHILDREN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    EXPECT_EQ(fetch(s.port, get_request("/plaintext")).status, 200);  // warm
    const long rss_before = rss_kib(s.process.pid());
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    constexpr uint64_t kBytes = uint64_t{1} << 30;
    ASSERT_TRUE(c.send_all(get_request("/stream/" + std::to_string(kBytes))));
    std::string first;
    const std::string head = routes::read_head(c.fd(), &first);
    ASSERT_NE(head.find("HTTP/1.1 200 "), std::string::npos) << head;
    ASSERT_NE(head.find("Content-Length: 1073741824\r\n"), std::string::npos) << head;
    uint64_t received = first.size();
    std::string sample = first.substr(0, 128);
    long rss_max = rss_before;
    std::vector<char> buf(1 << 20);
    uint64_t next_sample = 0;
    while (received < kBytes) {
        const ssize_t n = recv(c.fd(), buf.data(), buf.size(), 0);
        ASSERT_GT(n, 0) << "after " << received << " bytes";
        if (sample.size() < 128) {
            sample.append(buf.data(), std::min<size_t>(128, static_cast<size_t>(n)));
        }
        received += static_cast<uint64_t>(n);
        if (received >= next_sample) {  // every 32 MiB
            rss_max = std::max(rss_max, rss_kib(s.process.pid()));
            next_sample += 32u << 20;
        }
    }
    EXPECT_EQ(received, kBytes);
    EXPECT_EQ(sample.substr(0, 16), "0123456789abcdef");
    RecordProperty("server_rss_growth_kib", std::to_string(rss_max - rss_before));
    ASSERT_GT(rss_before, 0);
    EXPECT_LT(rss_max - rss_before, 16 * 1024) << rss_before << " KiB -> " << rss_max << " KiB";
    // The connection is still usable after the stream.
    ASSERT_TRUE(c.send_all(get_request("/plaintext")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "Hello, World!");
}

TEST(ExampleServer, ServerSentEventsArriveOneByOne) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    ASSERT_TRUE(c.send_all(get_request("/sse/3")));
    std::string got;
    const std::string head = routes::read_head(c.fd(), &got);
    EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Cache-Control: no-cache\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
    // Each event is read before the next one is produced (they are 100 ms apart).
    char buf[4096];
    for (int event = 1; event <= 3; ++event) {
        const std::string id = "id: " + std::to_string(event) + "\n";
        while (got.find(id) == std::string::npos) {
            const ssize_t n = recv(c.fd(), buf, sizeof buf, 0);
            ASSERT_GT(n, 0) << "waiting for event " << event << "; got " << got;
            got.append(buf, static_cast<size_t>(n));
        }
        EXPECT_EQ(got.find("id: " + std::to_string(event + 1)), std::string::npos)
            << "events " << event << " and " << event + 1 << " arrived together";
        EXPECT_NE(got.find("data: event " + std::to_string(event) + " of 3\n\n"), std::string::npos)
            << got;
    }
    while (!got.ends_with("\r\n0\r\n\r\n")) {  // the end of the stream
        const ssize_t n = recv(c.fd(), buf, sizeof buf, 0);
        ASSERT_GT(n, 0) << got;
        got.append(buf, static_cast<size_t>(n));
    }
}

TEST(ExampleServer, DelayedOffloadedAndCoroutineAnswersDoNotHoldUpOthersOnTheWorker) {
    REQUIRE_SERVER_BIN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    HttpClient delayed;
    HttpClient offloaded;
    ASSERT_TRUE(delayed.connect(s.port));
    ASSERT_TRUE(offloaded.connect(s.port));
    HttpClient coroutine;
    ASSERT_TRUE(coroutine.connect(s.port));
    ASSERT_TRUE(delayed.send_all(get_request("/delay/600")));
    ASSERT_TRUE(offloaded.send_all(get_request("/offload/600")));
    ASSERT_TRUE(coroutine.send_all(get_request("/co-delay/600")));
    // The one worker answers at once meanwhile, and the waiting ones have nothing yet.
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(fetch(s.port, get_request("/plaintext")).body, "Hello, World!");
        ASSERT_EQ(fetch(s.port, get_request("/co-plaintext")).body, "Hello, World!");
    }
    EXPECT_EQ(delayed.unread_bytes(), 0);
    EXPECT_EQ(offloaded.unread_bytes(), 0);
    EXPECT_EQ(coroutine.unread_bytes(), 0);
    Response r;
    ASSERT_TRUE(delayed.read_response(&r));
    EXPECT_EQ(r.body, "delayed 600 ms\n");
    ASSERT_TRUE(offloaded.read_response(&r));
    EXPECT_EQ(r.body, "offloaded 600 ms\n");
    ASSERT_TRUE(coroutine.read_response(&r));
    EXPECT_EQ(r.body, "delayed 600 ms\n");
    EXPECT_EQ(fetch(s.port, get_request("/delay/abc")).status, 400);
    EXPECT_EQ(fetch(s.port, get_request("/co-delay/abc")).status, 400);
    EXPECT_EQ(fetch(s.port, get_request("/stream/99999999999999999999")).status, 400);
}

TEST(ExampleServer, UploadCountsBodiesOfAnySizeChunkedOrNot) {
    REQUIRE_SERVER_BIN();
    NEXURE_NO_ASAN_QUARANTINE_FOR_CHILDREN();
    ExampleServer s;
    ASSERT_TRUE(s.start());
    const long rss_before = rss_kib(s.process.pid());
    // 256 MiB with a Content-Length (far over the 1 MiB other routes allow), then chunked.
    HttpClient c;
    ASSERT_TRUE(c.connect(s.port));
    const uint64_t total = uint64_t{256} << 20;
    const std::string piece(1 << 20, 'u');
    ASSERT_TRUE(c.send_all("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(total) + "\r\n\r\n"));
    for (uint64_t sent = 0; sent < total; sent += piece.size())
        ASSERT_TRUE(c.send_all(piece));
    Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(30'000ms)));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, R"({"bytes":268435456})");
    const long rss_after = rss_kib(s.process.pid());
    EXPECT_LT(rss_after - rss_before, 16 * 1024) << rss_before << " KiB -> " << rss_after << " KiB";
    ASSERT_TRUE(
        c.send_all("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, R"({"bytes":11})");
    // Other routes keep the collected-body limit.
    EXPECT_EQ(
        fetch(s.port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n").status,
        413);
}

}  // namespace
}  // namespace nexure::test
