// Micro-benchmarks of the allocators on the request path against the general-purpose ones:
// Region vs malloc/free for one request's allocations, and Pool vs new/delete for connection-
// and request-sized objects. "malloc" is whatever executables link (NEXURE_MALLOC: mimalloc by
// default; the label of every benchmark says which). Reports time per operation; asserts nothing.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "alloc/pool.h"
#include "alloc/region.h"

#ifndef NEXURE_MALLOC_NAME
#define NEXURE_MALLOC_NAME "unknown"
#endif

namespace {

using nexure::alloc::ChunkCache;
using nexure::alloc::Pool;
using nexure::alloc::PoolOptions;
using nexure::alloc::Region;

// One request's allocations: small strings (method, path, query, header values), the header
// array (32 entries of 16 bytes), a few decoded pieces, and a 2 KiB body.
constexpr size_t kRequestMix[] = {16, 24, 40, 64, 32, 96, 128, 48, 256, 200, 32 * 16, 2048};
constexpr size_t kMixCount = sizeof(kRequestMix) / sizeof(kRequestMix[0]);

// Both sides write every byte they get, so the comparison includes touching the memory.
void BM_RequestMix_Region(benchmark::State& state) {
    ChunkCache cache;
    Region region(cache);
    for (auto _ : state) {
        for (size_t n : kRequestMix) {
            void* p = region.allocate(n);
            std::memset(p, 0x2a, n);
            benchmark::DoNotOptimize(p);
        }
        benchmark::ClobberMemory();
        region.reset();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMixCount));
    state.SetLabel("allocations");
}
BENCHMARK(BM_RequestMix_Region);

void BM_RequestMix_Malloc(benchmark::State& state) {
    void* blocks[kMixCount];
    for (auto _ : state) {
        for (size_t i = 0; i < kMixCount; ++i) {
            void* p = std::malloc(kRequestMix[i]);
            std::memset(p, 0x2a, kRequestMix[i]);
            benchmark::DoNotOptimize(p);
            blocks[i] = p;
        }
        benchmark::ClobberMemory();
        for (void* p : blocks)
            std::free(p);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMixCount));
    state.SetLabel("allocations, " NEXURE_MALLOC_NAME);
}
BENCHMARK(BM_RequestMix_Malloc);

// Pool objects know their index (given by `make`), so release() needs no search, as in the
// connection pool. The same type goes through new/delete on the other side. Construction sets
// only the two counters (the payload is left uninitialised), so `new T` does no more than a
// pool acquire apart from the allocation itself.
template <size_t kBytes>
struct Object {
    uint32_t index = 0;
    uint32_t generation = 0;
    char bytes[kBytes - 8];
};
using Connection = Object<256>;
using Request = Object<128>;
static_assert(sizeof(Connection) == 256 && sizeof(Request) == 128);

// The pool's `make`: default-construct, then record the index.
template <class T>
void construct(void* where, uint32_t index) {
    T* object = ::new (where) T;
    object->index = index;
}

template <class T>
void touch(T* object) {
    ++object->generation;
    object->bytes[0] = 1;
    benchmark::DoNotOptimize(object);
}

template <class T>
void BM_Single_Pool(benchmark::State& state) {
    Pool<T> pool(PoolOptions{.objects_per_block = 256, .max_objects = 4096}, construct<T>);
    for (auto _ : state) {
        T* object = pool.acquire();
        touch(object);
        benchmark::ClobberMemory();
        pool.release(object->index);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

template <class T>
void BM_Single_NewDelete(benchmark::State& state) {
    for (auto _ : state) {
        T* object = new T;
        touch(object);
        benchmark::ClobberMemory();
        delete object;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetLabel(NEXURE_MALLOC_NAME);
}

constexpr int kBatch = 64;

template <class T>
void BM_Batch64_Pool(benchmark::State& state) {
    Pool<T> pool(PoolOptions{.objects_per_block = 256, .max_objects = 4096}, construct<T>);
    T* held[kBatch];
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            held[i] = pool.acquire();
            touch(held[i]);
        }
        benchmark::ClobberMemory();
        for (int i = kBatch - 1; i >= 0; --i)
            pool.release(held[i]->index);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}

template <class T>
void BM_Batch64_NewDelete(benchmark::State& state) {
    T* held[kBatch];
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            held[i] = new T;
            touch(held[i]);
        }
        benchmark::ClobberMemory();
        for (int i = kBatch - 1; i >= 0; --i)
            delete held[i];
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
    state.SetLabel(NEXURE_MALLOC_NAME);
}

BENCHMARK_TEMPLATE(BM_Single_Pool, Connection)->Name("BM_Single_Pool/256B");
BENCHMARK_TEMPLATE(BM_Single_NewDelete, Connection)->Name("BM_Single_NewDelete/256B");
BENCHMARK_TEMPLATE(BM_Single_Pool, Request)->Name("BM_Single_Pool/128B");
BENCHMARK_TEMPLATE(BM_Single_NewDelete, Request)->Name("BM_Single_NewDelete/128B");
BENCHMARK_TEMPLATE(BM_Batch64_Pool, Connection)->Name("BM_Batch64_Pool/256B");
BENCHMARK_TEMPLATE(BM_Batch64_NewDelete, Connection)->Name("BM_Batch64_NewDelete/256B");
BENCHMARK_TEMPLATE(BM_Batch64_Pool, Request)->Name("BM_Batch64_Pool/128B");
BENCHMARK_TEMPLATE(BM_Batch64_NewDelete, Request)->Name("BM_Batch64_NewDelete/128B");

}  // namespace

BENCHMARK_MAIN();
