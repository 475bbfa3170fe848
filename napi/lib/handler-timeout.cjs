'use strict';
// The handler timeout, enforced on the JavaScript side for apps whose answers go through their
// own error handler and hooks (napi/lib/engine-answers.cjs): a request not answered within
// handlerTimeoutMs gets the error FST_ERR_HANDLER_TIMEOUT (statusCode 503) through the app's
// error handler and onSend/onResponse hooks. The engine keeps its own deadline, BACKSTOP_MS
// later, as a backstop for a JavaScript side that never answers (an error handler that hangs, an
// onSend hook that never settles, a blocked thread): it then answers 503 itself.
//
// Every request has the same timeout, so arrival order is deadline order: one FIFO and one timer
// armed for its oldest entry, O(1) per request. Entries answered in time are skipped when they
// reach the front.

const { STATE_OPEN } = require('./reply.cjs');
const { ERRORS } = require('./errors.cjs');

const BACKSTOP_MS = 1000;

class HandlerTimeouts {
  constructor(state, ms) {
    this.state = state;
    this.ms = ms;
    this.replies = [];
    this.due = [];
    this.head = 0;
    this.timer = null;
    this.fire = this.fire.bind(this);
  }

  // `reply` was not answered synchronously: it times out `ms` from now unless answered.
  track(reply) {
    const due = performance.now() + this.ms;
    this.replies.push(reply);
    this.due.push(due);
    if (this.timer === null) this.arm(this.ms);
  }

  arm(delay) {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(delay)));
    this.timer.unref();
  }

  fire() {
    this.timer = null;
    const now = performance.now();
    const replies = this.replies;
    const due = this.due;
    let i = this.head;
    while (i < replies.length && due[i] <= now) {
      const reply = replies[i];
      replies[i] = null;
      i++;
      this.expire(reply);
    }
    if (i === replies.length) {
      this.replies = [];
      this.due = [];
      this.head = 0;
      return;
    }
    if (i > 1024 && i * 2 > replies.length) {
      this.replies = replies.slice(i);
      this.due = due.slice(i);
      i = 0;
    }
    this.head = i;
    this.arm(this.due[i] - now);
  }

  // Only a reply nothing was sent for yet: one whose onSend hooks are running, or whose error
  // handler already runs (for another error), is left to the engine's backstop.
  expire(reply) {
    if (reply._phase !== STATE_OPEN || reply._errored) return;
    reply._timedOut = true;
    this.state.fail(reply.request, reply, ERRORS.handlerTimeout(this.ms));
  }

  stop() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.replies = [];
    this.due = [];
    this.head = 0;
  }
}

module.exports = { HandlerTimeouts, BACKSTOP_MS };
