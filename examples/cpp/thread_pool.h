// ThreadPool: a few threads that run jobs off the engine's workers — for blocking work (a slow
// backend, a file system call, a CPU-heavy computation) whose answer comes back through a
// net::Later, or to a coroutine handler through net::offload(pool, fn). Used by nexure-server's
// /offload route and the example services. Jobs are move-only (net::Task), so a job may own a
// Later or a Resolver.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "net/unique_function.h"

namespace nexure::examples {

class ThreadPool {
  public:
    // The threads start with every signal blocked: a pool made before Server::run() would
    // otherwise take the SIGINT/SIGTERM that run() waits for, and die of it.
    explicit ThreadPool(unsigned threads) {
        sigset_t all;
        sigset_t old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (unsigned i = 0; i < threads; ++i)
            threads_.emplace_back([this] { work(); });
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    ~ThreadPool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
        for (std::thread& t : threads_)
            t.join();
    }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // Any thread: `job` runs on one of the pool's threads. Jobs queued when the pool is
    // destroyed still run first.
    void run(net::Task job) {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        ready_.notify_one();
    }

  private:
    void work() {
        for (;;) {
            net::Task job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<net::Task> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace nexure::examples
