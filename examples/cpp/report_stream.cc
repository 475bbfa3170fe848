// A large generated response, streamed: a CSV report of as many rows as asked, produced while the
// client reads it — the server never holds more than its per-connection high-water mark, whatever
// the size. Build: cmake --build --preset release; run:
// build/release/bin/nexure-example-report --port 8080
//
//   GET /report?rows=N   text/csv, chunked: a header line and N rows (default 1000; up to 10^9)
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "net/server.h"

using nexure::net::Request;
using nexure::net::Response;
using nexure::net::Server;
using nexure::net::ServerConfig;
using nexure::net::Stream;

namespace {

constexpr unsigned long long kMaxRows = 1'000'000'000ull;

class Report : public std::enable_shared_from_this<Report> {
  public:
    Report(Stream stream, unsigned long long rows) : stream_(std::move(stream)), rows_(rows) {}

    void start() {
        auto self = shared_from_this();
        stream_.on_abort([self] { self->rows_ = self->next_; });  // the client left: stop
        stream_.on_writable([self] { self->produce(); });         // room again: go on
        stream_.write("id,name,quantity,price\n");
        produce();
    }

  private:
    // Writes batches of rows until the connection is full (write() says false: on_writable
    // resumes) or the report is complete.
    void produce() {
        std::string batch;
        while (next_ < rows_) {
            batch.clear();
            for (int i = 0; i < 256 && next_ < rows_; ++i, ++next_) {
                batch += std::to_string(next_ + 1);
                batch += ",item-";
                batch += std::to_string(next_ * 7919 % 100000);
                batch += ',';
                batch += std::to_string(next_ % 97 + 1);
                batch += ',';
                batch += std::to_string(next_ * 31 % 10000 / 100.0).substr(0, 5);
                batch += '\n';
            }
            if (!stream_.write(batch)) return;
        }
        if (stream_.open()) stream_.end();
    }

    Stream stream_;
    unsigned long long rows_;
    unsigned long long next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = argc > 2 && std::string(argv[1]) == "--port"
                      ? static_cast<uint16_t>(std::atoi(argv[2]))
                      : 8080;
    config.threads = 2;
    Server server(config);

    server.get("/report", [](const Request& req, Response& res) {
        unsigned long long rows = 1000;
        if (auto text = req.query_param("rows")) {
            char* end = nullptr;
            const std::string digits(*text);
            rows = std::strtoull(digits.c_str(), &end, 10);
            if (digits.empty() || *end != '\0' || digits[0] == '-' || rows > kMaxRows) {
                res.status(400).type("text/plain").body("rows must be a number up to 1000000000\n");
                return;
            }
        }
        res.type("text/csv").header("Content-Disposition", "attachment; filename=\"report.csv\"");
        std::make_shared<Report>(res.stream(), rows)->start();
    });

    return server.run([](const Server& s) {
        std::printf("report example listening on http://%s:%u\n", s.address().c_str(), s.port());
        std::fflush(stdout);
    });
}
