// ResponseQueue (net/http1/response_queue.h): the text it keeps for the after-response hooks —
// each place's method, target and answer detail — stays right when the answered prefix of the
// places is reclaimed, and is dropped when a new run of places starts.
#include "net/http1/response_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace nexure::net::http1 {
namespace {

// Pushes place `n` with its request "/r<n>" remembered (and, every third, an answer's detail).
void push_numbered(ResponseQueue& q, int n) {
    ResponseQueue::Place& p = q.push(0, 0, false);
    q.remember(p, http::Method::kGet, "GET", "/r" + std::to_string(n));
    if (n % 3 == 0) {
        q.note_answer(p, 500, AnswerCause::kHandlerError, "detail " + std::to_string(n), 22);
    }
}

void expect_numbered(ResponseQueue& q, int first) {
    for (size_t i = 0; i < q.waiting(); ++i) {
        const int n = first + static_cast<int>(i);
        const ResponseQueue::Place& p = q.at(i);
        EXPECT_EQ(q.method_name(p), "GET") << n;
        EXPECT_EQ(q.target(p), "/r" + std::to_string(n)) << n;
        if (n % 3 == 0) {
            EXPECT_EQ(q.detail(p), "detail " + std::to_string(n)) << n;
            EXPECT_EQ(p.status, 500);
        } else {
            EXPECT_EQ(q.detail(p), "") << n;
        }
    }
}

TEST(ResponseQueue, RequestTextSurvivesTheReclaimOfAnsweredPlaces) {
    ResponseQueue q;
    q.restart_at(0);
    int pushed = 0;
    int popped = 0;
    for (int i = 0; i < 10; ++i)
        push_numbered(q, pushed++);
    // Ten places always waiting while pushes and pops interleave: the vector reaches its
    // capacity with an answered prefix again and again, and reclaims it (with its text).
    for (int round = 0; round < 5000; ++round) {
        push_numbered(q, pushed++);
        q.pop();
        ++popped;
        expect_numbered(q, popped);
    }
    EXPECT_EQ(q.waiting(), 10u);
    // The text held is that of the places in the vector, not of every place ever pushed
    // (5,010 places: ~80 KB of text without the reclaim).
    EXPECT_LE(q.requests.size(), q.places.capacity() * 32);
}

TEST(ResponseQueue, ANewRunOfPlacesStartsWithNoText) {
    ResponseQueue q;
    q.restart_at(0);
    push_numbered(q, 0);
    push_numbered(q, 1);
    q.pop();
    q.pop();
    q.restart_at(2);
    EXPECT_TRUE(q.requests.empty());
    push_numbered(q, 2);
    expect_numbered(q, 2);
}

}  // namespace
}  // namespace nexure::net::http1
