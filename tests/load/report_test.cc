// Report: the JSON of a run holds the figures a reader wants and everything a merge needs; reading
// it back gives the same report; merging adds runs made at the same time; bad input is named.
#include "bench/load/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace nexure::load {
namespace {

Report sample(uint64_t seed, bool corrected) {
    Report r;
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> latency(std::log(300.0), 1.0);
    for (int i = 0; i < 10'000; ++i)
        r.latency->record(static_cast<uint64_t>(latency(rng)) + 1);
    if (corrected) {
        r.corrected = std::make_unique<LatencyHistogram>();
        for (int i = 0; i < 10'000; ++i)
            r.corrected->record(static_cast<uint64_t>(latency(rng)) * 2 + 1);
    }
    r.requests = 10'000;
    r.duration_s = 2.5 + static_cast<double>(seed % 3);
    r.bytes = 1'234'567 + seed;
    r.errors = Errors{.connect = 1, .read = 2, .write = 3, .timeout = 4, .parse = 5};
    r.status = {0, 9'990, 0, 7, 3};
    return r;
}

void expect_same(const Report& a, const Report& b) {
    EXPECT_EQ(a.requests, b.requests);
    EXPECT_DOUBLE_EQ(a.duration_s, b.duration_s);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.errors.total(), b.errors.total());
    EXPECT_EQ(a.errors.timeout, b.errors.timeout);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.latency->counts(), b.latency->counts());
    EXPECT_EQ(a.latency->max(), b.latency->max());
    EXPECT_EQ(a.latency->percentile(99.9), b.latency->percentile(99.9));
    ASSERT_EQ(a.corrected == nullptr, b.corrected == nullptr);
    if (a.corrected) {
        EXPECT_EQ(a.corrected->counts(), b.corrected->counts());
    }
}

TEST(LoadReport, JsonHasTheSummaryFields) {
    const Report r = sample(1, false);
    const std::string json = to_json(r);
    for (const char* field :
         {"\"requests\": 10000", "\"duration_s\": ", "\"rps\": ", "\"errors\": {", "\"total\": 15",
          "\"status\": {", "\"2xx\": 9990", "\"4xx\": 7", "\"latency_us\": {",
          "\"p50\": ", "\"p90\": ", "\"p99\": ", "\"p999\": ", "\"max\": ", "\"histogram\": {"}) {
        EXPECT_NE(json.find(field), std::string::npos) << field << " in\n" << json;
    }
    EXPECT_EQ(json.find("corrected_latency_us"), std::string::npos);
    EXPECT_EQ(json.back(), '\n');
}

TEST(LoadReport, ReadingTheJsonBackGivesTheSameReport) {
    for (bool corrected : {false, true}) {
        const Report r = sample(2, corrected);
        Result<Report> back = report_from_json(to_json(r));
        ASSERT_TRUE(back.ok()) << back.error().message;
        expect_same(r, back.value());
    }
}

TEST(LoadReport, MergingAddsRunsMadeAtTheSameTime) {
    std::vector<Report> runs;
    runs.push_back(sample(3, false));
    runs.push_back(sample(4, false));
    Result<Report> merged = merge_reports(runs);
    ASSERT_TRUE(merged.ok()) << merged.error().message;
    const Report& m = merged.value();
    EXPECT_EQ(m.requests, 20'000u);
    EXPECT_DOUBLE_EQ(m.duration_s, std::max(runs[0].duration_s, runs[1].duration_s));
    EXPECT_DOUBLE_EQ(m.rps(), 20'000 / m.duration_s);
    EXPECT_EQ(m.errors.total(), 30u);
    EXPECT_EQ(m.status[1], 19'980u);
    EXPECT_EQ(m.bytes, runs[0].bytes + runs[1].bytes);
    LatencyHistogram both;
    both.merge(*runs[0].latency);
    both.merge(*runs[1].latency);
    EXPECT_EQ(m.latency->counts(), both.counts());
    // Merging what was read back from JSON is the same as merging the runs themselves.
    std::vector<Report> read;
    for (const Report& r : runs)
        read.push_back(std::move(report_from_json(to_json(r))).value());
    Result<Report> again = merge_reports(read);
    ASSERT_TRUE(again.ok());
    expect_same(m, again.value());
}

TEST(LoadReport, MergeRefusesNothingAndMixedKinds) {
    EXPECT_FALSE(merge_reports({}).ok());
    std::vector<Report> mixed;
    mixed.push_back(sample(5, false));
    mixed.push_back(sample(6, true));
    Result<Report> m = merge_reports(mixed);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("-R"), std::string::npos) << m.error().message;
}

TEST(LoadReport, BadJsonIsRefusedNamingTheField) {
    EXPECT_NE(report_from_json("not json").error().message.find("not valid JSON"),
              std::string::npos);
    EXPECT_NE(report_from_json("[1]").error().message.find("not an object"), std::string::npos);
    const std::string good = to_json(sample(7, false));
    auto without = [&good](const std::string& needle, const std::string& replacement) {
        std::string s = good;
        const size_t at = s.find(needle);
        EXPECT_NE(at, std::string::npos) << needle;
        s.replace(at, needle.size(), replacement);
        return report_from_json(s);
    };
    EXPECT_NE(without("\"requests\"", "\"requestz\"").error().message.find("\"requests\""),
              std::string::npos);
    EXPECT_NE(without("\"timeout\"", "\"timeoutx\"").error().message.find("errors.timeout"),
              std::string::npos);
    EXPECT_NE(without("\"2xx\"", "\"2yy\"").error().message.find("status.2xx"), std::string::npos);
    // A histogram whose counters are out of order cannot be merged exactly: refused.
    const Result<Report> swapped = without("\"counts\": [[", "\"counts\": [[99999999,1],[");
    ASSERT_FALSE(swapped.ok());
    EXPECT_NE(swapped.error().message.find("latency_us.histogram.counts"), std::string::npos)
        << swapped.error().message;
}

// ---- WebSocket runs ----------------------------------------------------------------------------

Report ws_sample(uint64_t seed, bool fanout) {
    Report r = sample(seed, false);
    r.errors.handshake = 6 + seed;
    r.errors.closed = 7;
    r.ws.emplace();
    r.ws->fanout = fanout;
    r.ws->handshakes = 100 + seed;
    r.ws->sent = 10'000;
    r.ws->bytes_sent = 380'000;
    if (fanout) {
        r.ws->subscribers = 1000;
        r.ws->own = 9;
        r.ws->gaps = seed;
        r.ws->min_per_subscriber = 10 - seed;
        r.ws->max_per_subscriber = 10 + seed;
    }
    r.ws->close_codes = {{1008, 3}, {1000 + static_cast<uint16_t>(seed), 4}};
    return r;
}

TEST(LoadReport, WebSocketFieldsSurviveTheJsonRoundTripAndMerge) {
    for (const bool fanout : {false, true}) {
        const Report a = ws_sample(1, fanout);
        const std::string json = to_json(a);
        for (const char* field : {"\"handshake\": 7", "\"closed\": 7", "\"ws\": {",
                                  "\"messages\": 10000", "\"messages_per_s\": ",
                                  "\"close_codes\": {", "\"1008\": 3"}) {
            EXPECT_NE(json.find(field), std::string::npos) << field << " in\n" << json;
        }
        EXPECT_EQ(json.find("\"gaps\"") != std::string::npos, fanout);
        Result<Report> back = report_from_json(json);
        ASSERT_TRUE(back.ok()) << back.error().message;
        expect_same(a, back.value());
        ASSERT_TRUE(back.value().ws.has_value());
        const WsStats& w = *back.value().ws;
        EXPECT_EQ(w.fanout, fanout);
        EXPECT_EQ(w.handshakes, 101u);
        EXPECT_EQ(w.bytes_sent, 380'000u);
        EXPECT_EQ(w.close_codes, a.ws->close_codes);
        EXPECT_EQ(back.value().errors.handshake, 7u);
        if (fanout) {
            EXPECT_EQ(w.gaps, 1u);
            EXPECT_EQ(w.max_per_subscriber, 11u);
        }

        std::vector<Report> both;
        both.push_back(ws_sample(1, fanout));
        both.push_back(ws_sample(2, fanout));
        Result<Report> merged = merge_reports(both);
        ASSERT_TRUE(merged.ok()) << merged.error().message;
        const WsStats& m = *merged.value().ws;
        EXPECT_EQ(m.handshakes, 101u + 102u);
        EXPECT_EQ(m.sent, 20'000u);
        EXPECT_EQ(m.close_codes.at(1008), 6u);
        EXPECT_EQ(m.close_codes.at(1001), 4u);
        EXPECT_EQ(m.close_codes.at(1002), 4u);
        EXPECT_EQ(merged.value().errors.handshake, 7u + 8u);
        if (fanout) {
            EXPECT_EQ(m.min_per_subscriber, 8u);
            EXPECT_EQ(m.max_per_subscriber, 12u);
        }
    }
    std::vector<Report> mixed;
    mixed.push_back(ws_sample(1, false));
    mixed.push_back(sample(2, false));
    Result<Report> merged = merge_reports(mixed);
    ASSERT_FALSE(merged.ok());
    EXPECT_NE(merged.error().message.find("different kinds"), std::string::npos);
}

TEST(LoadReport, AnHttpReportHasNoWebSocketFields) {
    const std::string json = to_json(sample(1, false));
    EXPECT_EQ(json.find("\"ws\""), std::string::npos);
    EXPECT_EQ(json.find("\"handshake\""), std::string::npos);
    Result<Report> back = report_from_json(json);
    ASSERT_TRUE(back.ok());
    EXPECT_FALSE(back.value().ws.has_value());
}

}  // namespace
}  // namespace nexure::load
