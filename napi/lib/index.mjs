// nexurejs: the ESM entry, a wrapper over the CommonJS one so that both share one instance (and
// one native addon) per thread.
import cjs from './index.cjs';

export const { createApp, httpError, SENT, BACKPRESSURE, DROPPED } = cjs;
export default cjs;
