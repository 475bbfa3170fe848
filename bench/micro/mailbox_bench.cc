// Mailbox (engine/mailbox.h): what handing a record across the engine's thread boundary costs.
//   BM_MailboxBatch/N      one thread: reserve + fill 64 B × N, publish, drain, release.
//   BM_MailboxCrossThread  a producer thread and the benchmark thread as consumer, batches of 64
//                          records of 64 B; the consumer spins (no sleeping), so this is the
//                          saturated cost per record, cache-line transfers included.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "engine/mailbox.h"

namespace {

using nexure::engine::Mailbox;

void BM_MailboxBatch(benchmark::State& state) {
    Mailbox m;
    if (!m.init(1 << 20).ok()) {
        state.SkipWithError("mailbox init failed");
        return;
    }
    const auto batch = static_cast<int>(state.range(0));
    uint64_t sum = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) {
            char* p = m.try_reserve(64);
            std::memset(p, i, 64);
        }
        m.publish();
        Mailbox::Record r;
        while (m.next(&r))
            sum += static_cast<unsigned char>(r.data[0]);
        m.release();
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_MailboxBatch)->Arg(1)->Arg(16)->Arg(64);

void BM_MailboxCrossThread(benchmark::State& state) {
    Mailbox m;
    if (!m.init(1 << 20).ok()) {
        state.SkipWithError("mailbox init failed");
        return;
    }
    std::atomic<bool> stop{false};
    std::thread producer([&] {
        uint64_t seq = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            int put = 0;
            for (; put < 64; ++put) {
                char* p = m.try_reserve(64);
                if (p == nullptr) break;
                std::memcpy(p, &seq, sizeof seq);
                ++seq;
            }
            if (put != 0) m.publish();
        }
    });
    uint64_t expected = 0;
    uint64_t received = 0;
    for (auto _ : state) {
        // One iteration: 64 records received.
        int got = 0;
        while (got < 64) {
            Mailbox::Record r;
            while (got < 64 && m.next(&r)) {
                uint64_t seq;
                std::memcpy(&seq, r.data, sizeof seq);
                if (seq != expected) state.SkipWithError("records out of order");
                ++expected;
                ++got;
            }
            m.release();
        }
        received += 64;
    }
    stop.store(true);
    producer.join();
    state.SetItemsProcessed(static_cast<int64_t>(received));
}
BENCHMARK(BM_MailboxCrossThread)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
