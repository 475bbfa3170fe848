'use strict';
// Event records from the engine (napi/PROTOCOL.md, "Event records"): the drain loop hands every
// record whose handler id is EVENT.HANDLER_ID to Events.dispatch(), which calls the handler
// registered for its type — abort and writable (streamed replies, req.signal:
// stream-reply.cjs); a streamed request body's data, end and error; WebSocket events (ws.cjs).

const { readEvent } = require('./records.cjs');

// The key that names a request's answer across records: worker index, then the ticket's slot,
// generation and seq (the ticket's flags are not part of it).
function ticketKey(worker, slot, generation, seq) {
  return `${worker}:${slot}:${generation}:${seq}`;
}

class Events {
  constructor() {
    this.handlers = new Array(64).fill(null);
    this.raw = new Array(64).fill(null);  // onRecord() handlers
  }

  // `fn(worker, u8, u32, off)`: the record itself, without an event object (WebSocket
  // messages, ws.cjs: the hot path of a socket).
  onRecord(type, fn) {
    if (this.handlers[type] !== null || this.raw[type] !== null) throw new Error(`event type ${type} has a handler already`);
    this.raw[type] = fn;
  }

  // `fn(worker, event)`: `event` as records.readEvent() gives it (its data is a view into the
  // ring, valid until the next pull()).
  on(type, fn) {
    if (this.handlers[type] !== null) throw new Error(`event type ${type} has a handler already`);
    this.handlers[type] = fn;
  }

  dispatch(worker, u8, u32, off) {
    const raw = this.raw[u8[off + 20]];
    if (raw !== null && raw !== undefined) {
      raw(worker, u8, u32, off);
      return;
    }
    const event = readEvent(u8, u32, off);
    const fn = this.handlers[event.type];
    if (fn !== null && fn !== undefined) fn(worker, event);
  }
}

module.exports = { Events, ticketKey };
