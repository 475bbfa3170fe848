'use strict';
// The handler timeout, enforced on the JavaScript side for apps whose answers go through their
// own error handler and hooks (napi/lib/engine-answers.cjs): a request not answered within
// handlerTimeoutMs gets the error FST_ERR_HANDLER_TIMEOUT (statusCode 503) through the app's
// error handler and onSend/onResponse hooks. The engine keeps its own deadline, BACKSTOP_MS
// later, as a backstop for a JavaScript side that never answers (an error handler that hangs, an
// onSend hook that never settles, a blocked thread): it then answers 503 itself.
//
// Every request has the same timeout, so arrival order is deadline order: the waiting replies
// form one list, oldest first (linked through the replies themselves), and one timer is armed
// for the oldest. A reply leaves the list when it is answered (State.commit calls untrack), so
// the list holds only the requests still waiting: O(1) per request, nothing kept after.

const { STATE_OPEN } = require('./reply.cjs');
const { ERRORS } = require('./errors.cjs');

const BACKSTOP_MS = 1000;

class HandlerTimeouts {
  constructor(state, ms) {
    this.state = state;
    this.ms = ms;
    this.first = null;  // the oldest waiting reply
    this.last = null;
    this.timer = null;
    this.fire = this.fire.bind(this);
  }

  // `reply` was not answered synchronously: it times out `ms` from now unless answered.
  track(reply) {
    if (reply._tDue !== 0) return;
    reply._tDue = performance.now() + this.ms;
    reply._tPrev = this.last;
    reply._tNext = null;
    if (this.last === null) this.first = reply;
    else this.last._tNext = reply;
    this.last = reply;
    if (this.timer === null) this.arm(this.ms);
  }

  // `reply` was answered (or timed out): it leaves the list.
  untrack(reply) {
    if (reply._tDue === 0) return;
    reply._tDue = 0;
    const prev = reply._tPrev;
    const next = reply._tNext;
    if (prev === null) this.first = next;
    else prev._tNext = next;
    if (next === null) this.last = prev;
    else next._tPrev = prev;
    reply._tPrev = null;
    reply._tNext = null;
  }

  arm(delay) {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(delay)));
    this.timer.unref();
  }

  fire() {
    this.timer = null;
    const now = performance.now();
    let reply = this.first;
    while (reply !== null && reply._tDue <= now) {
      this.untrack(reply);
      this.expire(reply);
      reply = this.first;
    }
    if (reply !== null) this.arm(reply._tDue - now);
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
    while (this.first !== null) this.untrack(this.first);
  }
}

module.exports = { HandlerTimeouts, BACKSTOP_MS };
