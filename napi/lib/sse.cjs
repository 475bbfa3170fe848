'use strict';
// Server-Sent Events for reply.sse() (the HTML standard's "Server-sent events", section 9.2): the
// framing of events, and SseFrames — the async iterator of frames that reply.sse() streams, with
// a heartbeat comment while the source is idle and an immediate cleanup (the source's return(),
// the timer cleared) when the stream is aborted.

const HEARTBEAT = ':\n\n';
const DONE = Object.freeze({ done: true, value: undefined });

function sseError(message) {
  const err = new TypeError(`reply.sse(): ${message}`);
  err.code = 'NEXURE_ERR_SSE_INVALID_EVENT';
  return err;
}

// A field value that must stay on one line (event, id): no CR, LF or NUL (id).
function oneLine(name, value) {
  const s = String(value);
  if (/[\r\n]/.test(s) || (name === 'id' && s.includes('\0'))) {
    throw sseError(`the ${name} field may not contain a line break${name === 'id' ? ' or NUL' : ''}`);
  }
  return s;
}

// `text` as data: lines (one per line of the text; CRLF, CR and LF all end a line).
function dataLines(text) {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      out += `data: ${text.slice(start, i)}\n`;
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  return out + `data: ${text.slice(start)}\n`;
}

// One event as its bytes on the wire (a string ending with the blank line).
function frame(event) {
  if (typeof event === 'string') return dataLines(event) + '\n';
  if (event === null || typeof event !== 'object') {
    throw sseError(`an event must be a string or an object { event, data, id, retry }, got ${event === null ? 'null' : typeof event}`);
  }
  let out = '';
  if (event.comment !== undefined) {
    const c = String(event.comment);
    for (const line of c.split(/\r\n|\r|\n/)) out += `: ${line}\n`;
  }
  if (event.id !== undefined) out += `id: ${oneLine('id', event.id)}\n`;
  if (event.event !== undefined) out += `event: ${oneLine('event', event.event)}\n`;
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) {
      throw sseError(`retry must be a non-negative integer (milliseconds), got ${String(event.retry)}`);
    }
    out += `retry: ${event.retry}\n`;
  }
  if (event.data !== undefined) {
    const d = event.data;
    out += dataLines(typeof d === 'string' ? d : JSON.stringify(d) ?? '');
  }
  if (out === '') throw sseError('an event object needs at least one of event, data, id, retry, comment');
  return out + '\n';
}

class SseFrames {
  constructor(source, heartbeat) {
    if (typeof source[Symbol.asyncIterator] === 'function') this.it = source[Symbol.asyncIterator]();
    else this.it = source[Symbol.iterator]();
    this.heartbeat = heartbeat;
    this.pending = null;  // the source's next(), while not consumed
    this.cancel = null;   // ends the next() in progress (return())
    this.closed = false;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    if (this.closed) return Promise.resolve(DONE);
    if (this.pending === null) {
      try {
        this.pending = Promise.resolve(this.it.next());
      } catch (err) {
        this.closed = true;
        return Promise.reject(err);
      }
    }
    const pending = this.pending;
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer = null;
      const settle = () => {
        if (settled) return false;
        settled = true;
        if (timer !== null) clearTimeout(timer);
        this.cancel = null;
        return true;
      };
      this.cancel = () => {
        if (settle()) resolve(DONE);
      };
      if (this.heartbeat > 0) {
        // Idle that long: a comment line keeps proxies and the client's timeouts quiet. The
        // source's next() stays pending and is taken by the next call.
        timer = setTimeout(() => {
          timer = null;
          if (settle()) resolve({ done: false, value: HEARTBEAT });
        }, this.heartbeat);
      }
      pending.then((r) => {
        if (!settle()) return;
        this.pending = null;
        if (r.done) {
          this.closed = true;
          resolve(DONE);
          return;
        }
        try {
          resolve({ done: false, value: frame(r.value) });
        } catch (err) {
          this.closed = true;
          reject(err);
        }
      }, (err) => {
        if (!settle()) return;
        this.pending = null;
        this.closed = true;
        reject(err);
      });
    });
  }

  // The stream is over (the client left, or an error): stop at once — the timer is cleared and
  // the source's return() called (an async generator runs its finally blocks; a Node Readable
  // is destroyed).
  return() {
    const first = !this.closed;
    this.closed = true;
    if (this.cancel !== null) this.cancel();
    if (!first) return Promise.resolve(DONE);
    const it = this.it;
    if (typeof it.return !== 'function') return Promise.resolve(DONE);
    return Promise.resolve().then(() => it.return()).then(() => DONE);
  }
}

// What reply.sse() streams: SseFrames over `source`, validated.
function sseSource(source, options) {
  if (source === null || source === undefined ||
      (typeof source[Symbol.asyncIterator] !== 'function' && typeof source[Symbol.iterator] !== 'function') ||
      typeof source === 'string') {
    throw sseError('the source must be an async iterable (an async generator, a Readable in ' +
      'object mode) or an iterable of events');
  }
  let heartbeat = 0;
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object') throw sseError('options must be an object { heartbeat }');
    for (const k of Object.keys(options)) {
      if (k !== 'heartbeat') throw sseError(`unknown option ${k} (known: heartbeat)`);
    }
    if (options.heartbeat !== undefined) {
      if (!Number.isInteger(options.heartbeat) || options.heartbeat < 0) {
        throw sseError(`heartbeat must be a non-negative integer (milliseconds), got ${String(options.heartbeat)}`);
      }
      heartbeat = options.heartbeat;
    }
  }
  return new SseFrames(source, heartbeat);
}

module.exports = { sseSource, frame, HEARTBEAT };
