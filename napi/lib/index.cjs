'use strict';
// nexurejs: the public entry (CommonJS). `require('nexurejs')` and `import ... from 'nexurejs'`
// (index.mjs wraps this file) share one instance. The API is documented in napi/lib/README.md.

const { createApp } = require('./app.cjs');
const { httpError } = require('./errors.cjs');
const { SENT, BACKPRESSURE, DROPPED } = require('./ws.cjs');

// SENT, BACKPRESSURE, DROPPED: what ws.send() returns (napi/README.md "WebSocket").
module.exports = { createApp, httpError, SENT, BACKPRESSURE, DROPPED };
module.exports.default = module.exports;
