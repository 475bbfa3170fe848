// nexurejs/http: the ESM entry, a wrapper over the CommonJS one (one instance per thread).
import cjs from './http.cjs';

export const {
  createServer, Server, IncomingMessage, ServerResponse, OutgoingMessage, STATUS_CODES, METHODS,
  validateHeaderName, validateHeaderValue, maxHeaderSize,
} = cjs;
export default cjs;
