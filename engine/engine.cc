#include "engine/engine.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

namespace nexure::engine {

// Start-up handshake between the controlling thread and one worker thread.
struct Engine::Slot {
    std::unique_ptr<Worker> worker;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable ready_cv;
    std::optional<Result<void>> ready;  // set once the worker is set up (or failed)
    bool go = false;                    // the controlling thread lets the loop begin
};

Engine::Engine(EngineConfig config) : config_(std::move(config)) {
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Engine::~Engine() {
    request_stop();
    wait();
    if (stop_fd_ >= 0) close(stop_fd_);
}

void Engine::worker_main(Slot* slot, const HandlerFactory* factory) {
    // Shutdown signals go to the controlling thread, never to a worker.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    Worker& worker = *slot->worker;
    Result<void> setup = worker.init(config_.ring);
    std::unique_ptr<WorkerHandler> handler;
    if (setup) {
        Result<std::unique_ptr<WorkerHandler>> made = (*factory)(worker);
        if (made)
            handler = std::move(made).value();
        else
            setup = made.error();
    }
    const bool ok = setup.ok();
    {
        std::unique_lock lock(slot->mutex);
        slot->ready = std::move(setup);
        slot->ready_cv.notify_all();
        slot->ready_cv.wait(lock, [slot] { return slot->go; });
    }
    if (ok && !stop_requested_.load(std::memory_order_acquire)) {
        worker.run(*handler, config_.drain_timeout_ms * 1'000'000);
    }
    handler.reset();  // closes the worker's sockets on its own thread
    // Pending operations pin their sockets until the ring goes; do not wait for ~Engine.
    worker.ring().close();
    exited_.fetch_add(1, std::memory_order_acq_rel);
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
}

Result<void> Engine::start(HandlerFactory factory, bool block_signals) {
    NEXURE_CHECK(workers_.empty());
    if (stop_fd_ < 0) return Error{errno, std::string("eventfd failed: ") + std::strerror(errno)};
    if (block_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
    }
    const CpuTopology topo = CpuTopology::detect();
    const unsigned n = config_.threads == 0 ? topo.count() : config_.threads;
    // The factory must outlive the worker threads; it is kept in a heap cell owned here.
    auto shared_factory = std::make_shared<HandlerFactory>(std::move(factory));
    for (unsigned i = 0; i < n; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->worker = config_.pin_threads ? std::make_unique<Worker>(i, topo.cpu_for_worker(i),
                                                                      topo.node_for_worker(i))
                                           : std::make_unique<Worker>(i, -1, -1);
        Slot* raw = slot.get();
        slot->thread =
            std::thread([this, raw, shared_factory] { worker_main(raw, shared_factory.get()); });
        workers_.push_back(std::move(slot));
    }
    std::optional<Error> first_error;
    for (auto& slot : workers_) {
        std::unique_lock lock(slot->mutex);
        slot->ready_cv.wait(lock, [&] { return slot->ready.has_value(); });
        if (!slot->ready->ok() && !first_error) first_error = slot->ready->error();
    }
    if (!first_error) ring_mode_ = workers_.front()->worker->ring().mode();
    if (first_error) stop_requested_.store(true, std::memory_order_release);
    for (auto& slot : workers_) {
        std::lock_guard lock(slot->mutex);
        slot->go = true;
        slot->ready_cv.notify_all();
    }
    if (first_error) {
        wait();
        return *first_error;
    }
    return {};
}

void Engine::request_stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    for (auto& slot : workers_)
        slot->worker->request_stop();
    if (stop_fd_ >= 0) {
        const uint64_t one = 1;
        (void)!write(stop_fd_, &one, sizeof(one));
    }
}

void Engine::wait() {
    for (auto& slot : workers_) {
        if (slot->thread.joinable()) slot->thread.join();
    }
}

int Engine::run_until_signal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    const int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    int stopped_by = 0;
    bool draining = false;
    while (exited_.load(std::memory_order_acquire) < workers_.size()) {
        pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(fds, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) break;
        uint64_t drained_count = 0;
        (void)!read(stop_fd_, &drained_count, sizeof(drained_count));
        signalfd_siginfo info{};
        while (sfd >= 0 && read(sfd, &info, sizeof(info)) == sizeof(info)) {
            if (draining) {
                // A second signal: the user does not want to wait for the drain.
                std::fprintf(stderr, "nexure: second signal, stopping without draining\n");
                std::_Exit(128 + static_cast<int>(info.ssi_signo));
            }
            stopped_by = static_cast<int>(info.ssi_signo);
            draining = true;
            request_stop();
        }
        if (stop_requested_.load(std::memory_order_acquire)) draining = true;
    }
    wait();
    if (sfd >= 0) close(sfd);
    return stopped_by;
}

}  // namespace nexure::engine
