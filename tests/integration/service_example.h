// The fixture of the tests that run an example program of examples/cpp/ as a user would: started
// on a free port, asked over sockets, stopped with SIGTERM (a clean exit, status 0, expected).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"

namespace nexure::test {

class ServiceExample : public ::testing::Test {
  protected:
    // Starts `binary --port 0 extra...` and waits for its "listening on http://HOST:PORT".
    void run(const char* binary, const std::vector<std::string>& extra = {}) {
        NEXURE_SKIP_WITHOUT_IO_URING();
        std::vector<std::string> argv = {binary, "--port", "0"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        ASSERT_TRUE(process_.start(argv));
        port_ = process_.wait_for_listening_port();
        ASSERT_NE(port_, 0) << "stdout: '" << process_.stdout_text() << "' stderr: '"
                            << process_.stderr_text() << "'";
    }
    Response exchange(const std::string& request) {
        HttpClient c;
        Response r;
        EXPECT_TRUE(c.connect(port_));
        EXPECT_TRUE(c.send_all(request));
        EXPECT_TRUE(c.read_response(&r)) << request;
        return r;
    }
    void stop_with_sigterm() {
        ASSERT_TRUE(process_.kill(SIGTERM));
        const ExitStatus status = process_.wait(deadline_in(std::chrono::milliseconds(10'000)));
        EXPECT_TRUE(status.exited) << status;
        EXPECT_EQ(status.code, 0) << status << " stderr: " << process_.stderr_text();
    }

    Process process_;
    uint16_t port_ = 0;
};

}  // namespace nexure::test
