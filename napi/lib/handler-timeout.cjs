'use strict';
// The handler timeout, enforced on the JavaScript side for apps whose answers go through their
// own error handler and hooks (napi/lib/engine-answers.cjs): a request not answered within
// handlerTimeoutMs gets the error FST_ERR_HANDLER_TIMEOUT (statusCode 503) through the app's
// error handler and onSend/onResponse hooks. The engine keeps its own deadline, BACKSTOP_MS
// later, as a backstop for a JavaScript side that never answers (an error handler that hangs, an
// onSend hook that never settles, a blocked thread): it then answers 503 itself.
//
// Every request has the same timeout, so arrival order is deadline order: the waiting replies
// form one doubly linked list, oldest first (an entry per reply, `reply._waiting`), and one timer
// is armed for the oldest. A reply leaves the list when it is answered (State.commit calls
// untrack), so the list holds only the requests still waiting: O(1) per request, nothing kept
// after. Only requests not answered synchronously are tracked.

// The global `performance` is a lazy getter in Node (node:internal/util): a property read of it
// costs a call each time; the module's object does not.
const { performance } = require('node:perf_hooks');
const { STATE_OPEN } = require('./reply.cjs');
const { ERRORS } = require('./errors.cjs');

const BACKSTOP_MS = 1000;

class HandlerTimeouts {
  constructor(state, ms) {
    this.state = state;
    this.ms = ms;
    this.first = null;  // the oldest waiting entry: { reply, due, prev, next }
    this.last = null;
    this.timer = null;
    this.fire = this.fire.bind(this);
    // The time the requests of the drain's current batch arrived, read once for the batch by
    // the first track() after newBatch() (a clock read per request was 3% of the JS thread's
    // time under the small API; a batch is handled within microseconds).
    this.now = -1;
  }

  // The drain starts on a new batch of requests.
  newBatch() {
    this.now = -1;
  }

  // `reply` was not answered synchronously: it times out `ms` from its batch's arrival unless
  // answered.
  track(reply) {
    if (reply._waiting !== null) return;
    let now = this.now;
    if (now < 0) now = this.now = performance.now();
    const entry = { reply, due: now + this.ms, prev: this.last, next: null };
    reply._waiting = entry;
    if (this.last === null) this.first = entry;
    else this.last.next = entry;
    this.last = entry;
    if (this.timer === null) this.arm(this.ms);
  }

  // `reply` was answered (or timed out): it leaves the list.
  untrack(reply) {
    const entry = reply._waiting;
    if (entry === null) return;
    reply._waiting = null;
    if (entry.prev === null) this.first = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.last = entry.prev;
    else entry.next.prev = entry.prev;
  }

  arm(delay) {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(delay)));
    this.timer.unref();
  }

  fire() {
    this.timer = null;
    const now = performance.now();
    let entry = this.first;
    while (entry !== null && entry.due <= now) {
      const reply = entry.reply;
      this.untrack(reply);
      this.expire(reply);
      entry = this.first;
    }
    if (entry !== null) this.arm(entry.due - now);
  }

  // Only a reply nothing was sent for yet: one whose onSend hooks are running, or whose error
  // handler already runs (for another error), is left to the engine's backstop.
  expire(reply) {
    if (reply._phase !== STATE_OPEN || reply._errored) return;
    reply._timedOut = true;
    this.state.outbound.timedOut(reply.request);  // req.signal fires
    this.state.fail(reply.request, reply, ERRORS.handlerTimeout(this.ms));
  }

  stop() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.first !== null) this.untrack(this.first.reply);
  }
}

module.exports = { HandlerTimeouts, BACKSTOP_MS };
