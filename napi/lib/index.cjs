'use strict';
// nexurejs: the public entry (CommonJS). `require('nexurejs')` and `import ... from 'nexurejs'`
// (index.mjs wraps this file) share one instance. The API is documented in napi/lib/README.md.

const { createApp } = require('./app.cjs');
const { httpError } = require('./errors.cjs');

module.exports = { createApp, httpError };
module.exports.default = module.exports;
