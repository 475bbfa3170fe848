// Type declarations for nexurejs (napi/lib/README.md documents the API).
//
// Route parameters are inferred from the path literal, with the router's syntax
// (net/router/router.h): `:name` is a parameter (letters, digits, '_'), several may share a
// segment (`/geo/:lat-:lng`, `/files/:name.json`), `::` is a literal ':', and a final `*` is the
// catch-all, named '*'. A path that is not a literal gives Record<string, string>.

// ---- route parameters ----------------------------------------------------------------------

type Lower = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'j' | 'k' | 'l' | 'm' | 'n' |
  'o' | 'p' | 'q' | 'r' | 's' | 't' | 'u' | 'v' | 'w' | 'x' | 'y' | 'z';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type NameChar = Lower | Uppercase<Lower> | Digit | '_';

// [name, rest]: the longest run of name characters at the start of S.
type TakeName<S extends string, Acc extends string = ''> =
  S extends `${infer C}${infer R}`
    ? C extends NameChar ? TakeName<R, `${Acc}${C}`> : [Acc, S]
    : [Acc, ''];

// The parameter names in a path pattern.
type ParamNames<P extends string> =
  P extends `${string}:${infer Rest}`
    ? Rest extends `:${infer After}`
      ? ParamNames<After>
      : TakeName<Rest> extends [infer N extends string, infer Tail extends string]
        ? (N extends '' ? never : N) | ParamNames<Tail>
        : never
    : never;

type CatchAll<P extends string> = P extends `${string}*` ? '*' : never;

/** The `req.params` type of a route path: `RouteParams<'/users/:id'>` is `{ id: string }`. */
export type RouteParams<P extends string> = string extends P
  ? Record<string, string>
  : { [K in ParamNames<P> | CatchAll<P>]: string };

// ---- requests and replies ------------------------------------------------------------------

/** `Buffer` when Node's types are loaded (@types/node), else `Uint8Array`. */
export type BodyBuffer = typeof globalThis extends { Buffer: { prototype: infer B } } ? B : Uint8Array;

export type HTTPMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' |
  'TRACE' | 'PATCH';

/** Request headers: names lower-cased, repeated ones joined with ', ', set-cookie an array. */
export interface IncomingHeaders {
  [name: string]: string | string[] | undefined;
  'set-cookie'?: string[];
}

/** A parsed query string: a repeated key gives an array. */
export interface Query {
  [key: string]: string | string[] | undefined;
}

/**
 * The Node `Readable` that req.stream() returns, typed by the members uploads use (so that
 * @types/node stays optional): pipe it (busboy), iterate it, or pause/resume it.
 */
export interface BodyStream extends AsyncIterable<BodyBuffer> {
  readonly readableLength: number;
  readonly destroyed: boolean;
  pipe<T>(destination: T, options?: { end?: boolean }): T;
  pause(): this;
  resume(): this;
  destroy(error?: Error): this;
  on(event: 'data', listener: (chunk: BodyBuffer) => void): this;
  on(event: 'end' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error & { statusCode?: number }) => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
}

/** The connection's two ends (`req.socket`), as the engine's kernel socket reports them. */
export interface RequestSocket {
  /** The client's address ('127.0.0.1', '::1', '::ffff:10.0.0.1'); undefined when unknown. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: 'IPv4' | 'IPv6' | undefined;
  /** The server's address the client connected to, and its port. */
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Always false: the engine speaks plain HTTP/1.1. */
  readonly encrypted: boolean;
}

/**
 * createApp({ trustProxy }): which proxies' X-Forwarded-* headers to believe (as Fastify):
 * true (all), a hop count, an address/CIDR list (a comma-separated string or an array, with
 * proxy-addr's names 'loopback', 'linklocal', 'uniquelocal'), or a function (address, hop).
 */
export type TrustProxy = boolean | number | string | readonly string[] |
  ((address: string, hop: number) => boolean);

/** A logger: pino's, or one that does nothing when the app has no `logger`. */
export interface Logger {
  level: string;
  fatal(obj: unknown, msg?: string, ...args: unknown[]): void;
  error(obj: unknown, msg?: string, ...args: unknown[]): void;
  warn(obj: unknown, msg?: string, ...args: unknown[]): void;
  info(obj: unknown, msg?: string, ...args: unknown[]): void;
  debug(obj: unknown, msg?: string, ...args: unknown[]): void;
  trace(obj: unknown, msg?: string, ...args: unknown[]): void;
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): Logger;
}

/** What unsignCookie() answers, as @fastify/cookie does. */
export interface UnsignResult {
  /** The signature matched one of the secrets. */
  valid: boolean;
  /** It matched an older secret of the rotation: sign the value again. */
  renew: boolean;
  /** The value without its signature (null when invalid). */
  value: string | null;
}

/** reply.setCookie() options: the `cookie` package's, plus `signed`. */
export interface CookieOptions {
  domain?: string;
  /** Default '/'. */
  path?: string;
  /** A Date, or a time in ms since the epoch. */
  expires?: Date | number;
  /** Seconds. */
  maxAge?: number;
  httpOnly?: boolean;
  /** 'auto': Secure when req.protocol is 'https'. */
  secure?: boolean | 'auto';
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
  encode?: (value: string) => string;
  /** Sign the value with the app's cookieSecret. */
  signed?: boolean;
}

/** Members added with decorateRequest() / decorateReply(), for declaration merging. */
export interface RequestDecorations {}
export interface ReplyDecorations {}

export interface Request<Params = Record<string, string>> extends RequestDecorations {
  /** The client's address: the socket's peer, or with trustProxy the X-Forwarded-For entry behind the trusted proxies. */
  readonly ip: string | undefined;
  /** With trustProxy: the peer, then X-Forwarded-For from nearest to furthest, as far as trusted; without it undefined. */
  readonly ips: string[] | undefined;
  readonly socket: RequestSocket;
  /** 'http', or the last X-Forwarded-Proto when the peer is a trusted proxy. */
  readonly protocol: string;
  /** The Host header (with its port), or the last X-Forwarded-Host when the peer is a trusted proxy; '' when none. */
  readonly host: string;
  /** host without its port ('[::1]' for an IPv6 literal). */
  readonly hostname: string;
  /**
   * A number unique within the app; with `requestIdHeader` or `genReqId`, that header's value or
   * what genReqId returned (by default 'req-<n>').
   */
  readonly id: number | string;
  /** A child of the app's logger with `{ reqId: req.id }`, made on first use. */
  readonly log: Logger;
  /** The Cookie header, parsed on first access. */
  readonly cookies: Record<string, string | undefined>;
  /** Checks a value signed with the app's cookieSecret. */
  unsignCookie(value: string): UnsignResult;
  readonly method: HTTPMethod;
  /** The request-target as sent: `/a/b?x=1`. */
  readonly url: string;
  /** The path, without the query, not decoded. */
  readonly path: string;
  /** The query string without '?', not decoded ('' when none). */
  readonly querystring: string;
  /** The query string, parsed on first access (%XX and '+' decoded). */
  readonly query: Query;
  /** Route parameters, percent-decoded, on first access. */
  readonly params: Params;
  /** Request headers, decoded on first access. */
  readonly headers: IncomingHeaders;
  readonly httpVersion: '1.0' | '1.1';
  /** The route pattern that matched, with its prefix. */
  readonly routePath: string;
  /** The route's `config` option ({} when none). */
  readonly routeConfig: Record<string, unknown>;
  /**
   * The body: a Buffer (a copy of its own) by default; on a `body: 'parse'` route the parsed JSON
   * for JSON types, a string for text/plain, undefined without a body.
   */
  readonly body: any;
  header(name: 'set-cookie'): string[] | undefined;
  header(name: string): string | undefined;
  /** The body as UTF-8 text. */
  text(): Promise<string>;
  /**
   * The body parsed as JSON; rejects with a 415 error for a non-JSON Content-Type (unless
   * strictContentType is false) and a 400 error when the body is empty or not JSON.
   */
  json<T = any>(): Promise<T>;
  /**
   * The body as a Node Readable: for a { body: 'stream' } route fed as it arrives, with
   * backpressure (pausing it stops the engine reading the socket); for other routes the
   * buffered body. It errors with a statusCode (400 the client left, 413 over bodyLimit).
   */
  stream(): BodyStream;
  /** for await (const chunk of req): the body's chunks. */
  [Symbol.asyncIterator](): AsyncIterableIterator<BodyBuffer>;
  /**
   * Aborted when the client goes away before the answer is complete (it closed or reset the
   * connection), or when the handler timeout answered 503 instead. Made on first access.
   */
  readonly signal: AbortSignal;
}

/** A chunk a streamed body may yield. */
export type StreamChunk = string | Uint8Array | ArrayBuffer;

/**
 * A body sent in pieces with backpressure: a Node Readable (an async iterable too), a web
 * ReadableStream, or any async iterable (an async generator) of chunks.
 */
export type StreamPayload = ReadableStream<StreamChunk> | AsyncIterable<StreamChunk>;

/** One Server-Sent Event: a string is data only; `data` that is not a string is sent as JSON. */
export type SseEvent =
  | string
  | { event?: string; data?: unknown; id?: string | number; retry?: number; comment?: string };

export interface SseOptions {
  /** Milliseconds without an event after which a `:` comment line is sent (0: none, default). */
  heartbeat?: number;
}

export type HeaderValue = string | number | readonly string[];

export interface Reply extends ReplyDecorations {
  readonly request: Request<Record<string, string>>;
  /** The request's logger. */
  readonly log: Logger;
  /** Adds a Set-Cookie header (serialized with the `cookie` package); the same name, domain and path replaces an earlier one. */
  setCookie(name: string, value: string, options?: CookieOptions): this;
  /** Same as setCookie(). */
  cookie(name: string, value: string, options?: CookieOptions): this;
  /** Expires the cookie (same name, domain and path). */
  clearCookie(name: string, options?: CookieOptions): this;
  signCookie(value: string): string;
  unsignCookie(value: string): UnsignResult;
  statusCode: number;
  /** True once send() was called. */
  readonly sent: boolean;
  code(statusCode: number): this;
  status(statusCode: number): this;
  /**
   * Throws an EngineError (FST_ERR_INVALID_HEADER, statusCode 500) for a name that is not a token
   * or a value with CR, LF, NUL or a character above U+00FF.
   */
  header(name: string, value: HeaderValue): this;
  headers(values: Record<string, HeaderValue>): this;
  getHeader(name: string): HeaderValue | undefined;
  hasHeader(name: string): boolean;
  removeHeader(name: string): this;
  getHeaders(): Record<string, HeaderValue>;
  type(contentType: string): this;
  /**
   * This answer's own say on compression: false never compresses it; true compresses it
   * whatever its type and size, when its route compresses and the client accepts a coding.
   * The engine does the compressing, on its worker thread.
   */
  compress(on: boolean): this;
  redirect(url: string, statusCode?: number): this;
  redirect(statusCode: number, url: string): this;
  /**
   * Sends the response: a string as text/plain, a Buffer/Uint8Array as bytes, undefined as an
   * empty body, a stream (a Node Readable, a web ReadableStream, an async iterable) in pieces
   * with backpressure (chunked, or with the Content-Length set by `header()`), other data as
   * JSON. A function, a symbol, a bigint, a Promise or another stream-like object is an error
   * (500, code NEXURE_ERR_REP_INVALID_PAYLOAD_TYPE). A second call is ignored (with a warning).
   */
  send(payload?: unknown): this;
  /**
   * Sends a file: `path` below `options.root` (or an absolute path). Content-Type from the
   * extension, ETag/Last-Modified, 304, Range (206/416), HEAD and precompressed `.br`/`.gz`
   * siblings are handled; the engine sends the bytes on its own ring. A missing file goes to the
   * app's not-found handling (404).
   */
  sendFile(path: string, options?: FileOptions): this;
  /**
   * Server-Sent Events from `source` (an async iterable, or an iterable, of events): the head
   * goes out at once (text/event-stream, no-cache, X-Accel-Buffering: no), each event as soon
   * as it is produced; the source's return() is called when the client leaves.
   */
  sse(source: AsyncIterable<SseEvent> | Iterable<SseEvent>, options?: SseOptions): this;
}

/** Errors with a `statusCode` (4xx/5xx) are answered with that status by the default handler. */
export interface HttpError extends Error {
  statusCode: number;
}

/**
 * The codes of the errors the app raises where the engine would have answered by itself (an app
 * with hooks or handlers: napi/lib/README.md, "The engine's own answers").
 */
export type EngineErrorCode =
  | 'FST_ERR_METHOD_NOT_ALLOWED'   // 405: the path has routes, not for this method
  | 'FST_ERR_CTP_BODY_TOO_LARGE'   // 413: the body is over bodyLimit (never read)
  | 'FST_ERR_HANDLER_TIMEOUT'      // 503: no answer within handlerTimeoutMs
  | 'FST_ERR_INVALID_HEADER'       // 500: reply.header() with an invalid name or value
  | 'FST_ERR_ENGINE_ANSWER';       // another status the engine handed over

/** An error an error handler may receive for an engine answer (`error.code` tells which). */
export interface EngineError extends HttpError {
  code: EngineErrorCode;
  /** FST_ERR_METHOD_NOT_ALLOWED: the methods the path has (the `Allow` value, also on the reply). */
  allow?: string;
  /** FST_ERR_CTP_BODY_TOO_LARGE: the body limit in bytes. */
  limit?: number;
}

// ---- handlers, hooks, plugins --------------------------------------------------------------

export type Handler<P extends string = string> =
  (this: App, req: Request<RouteParams<P>>, reply: Reply) => unknown;

/**
 * A hook: may return a Promise (awaited), or take `done` and call it (Fastify's callback style,
 * chosen when the function declares three parameters).
 */
export type HookFn =
  (this: App, req: Request, reply: Reply, done: (err?: unknown) => void) => unknown;

export type SendPayload = string | Uint8Array | null;

/**
 * An onSend hook gets the serialized payload and may return a replacement (or a Promise of one);
 * with four parameters it is callback style: done(err, replacement).
 */
export type OnSendFn =
  (this: App, req: Request, reply: Reply, payload: SendPayload,
    done: (err?: unknown, payload?: SendPayload) => void) =>
    SendPayload | undefined | void | Promise<SendPayload | undefined | void>;

export interface Hooks {
  onRequest: HookFn;
  preHandler: HookFn;
  onSend: OnSendFn;
  onResponse: HookFn;
}

/** 'buffer' (default): req.body is a Buffer; 'parse': Fastify's default body parsing. */
export type BodyMode = 'buffer' | 'parse';

export interface RouteOptions {
  /**
   * 'buffer' (default), 'parse' (BodyMode), or 'stream': the body is not buffered; read it with
   * req.stream() or `for await (const chunk of req)` as it arrives, with backpressure.
   */
  body?: BodyMode | 'stream';
  /** false: req.json() and 'parse' accept any Content-Type. Default: the app's (true). */
  strictContentType?: boolean;
  onRequest?: HookFn | HookFn[];
  preHandler?: HookFn | HookFn[];
  onSend?: OnSendFn | OnSendFn[];
  onResponse?: HookFn | HookFn[];
  /** Arbitrary data, available as req.routeConfig. */
  config?: Record<string, unknown>;
  /** With body: 'stream': the most body bytes (413 beyond); 0 or absent: no limit. */
  bodyLimit?: number;
  /**
   * This route's compression: false never, true as the app's settings (even when the app has
   * none), or its own encodings. Default: as createApp({ compression }) says.
   */
  compression?: boolean | { encodings?: Encoding[] | string };
}

export interface RouteDefinition<P extends string> extends RouteOptions {
  method: HTTPMethod | 'ALL' | 'OTHER' | Array<HTTPMethod | 'ALL' | 'OTHER'>;
  url: P;
  handler: Handler<P>;
}

/**
 * Receives what a handler or hook threw, and the engine's own answers as errors (EngineError:
 * 405, 413, 503, 500 for an invalid header) when the app has hooks or handlers.
 */
export type ErrorHandler =
  (this: App, error: any, req: Request, reply: Reply) => unknown;

export type NotFoundHandler =
  (this: App, req: Request<{}>, reply: Reply) => unknown;

export interface PluginOptions {
  /** Prefix for the routes the plugin registers ('/api'). */
  prefix?: string;
}

/**
 * A plugin gets a scoped app (its routes are prefixed) and its options; it may be async (awaited
 * before listen) or take `done` (callback style, chosen when it declares three parameters).
 */
export type Plugin<O = {}> =
  (app: App, options: O & PluginOptions, done: (err?: unknown) => void) => unknown;

/** A response the engine serves by itself, in C++, without calling JavaScript. */
export interface FixedResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string | number | readonly string[]> | ReadonlyArray<readonly [string, string]>;
  /** A string (text/plain unless a content-type header is given), bytes, or a JSON value. */
  body?: unknown;
}

// ---- inject --------------------------------------------------------------------------------

export interface InjectOptions {
  method?: HTTPMethod | Lowercase<HTTPMethod> | (string & {});
  url?: string;
  path?: string;
  query?: string | Record<string, string | readonly string[]>;
  headers?: Record<string, string | number | readonly string[] | undefined>;
  /**
   * A string, bytes, a stream (a Readable or any async iterable: the body of a stream route,
   * sent chunked) or a value sent as JSON (with content-type application/json).
   */
  body?: unknown;
  payload?: unknown;
  /** The client's address (req.ip, req.socket.remoteAddress). Default '127.0.0.1'. */
  remoteAddress?: string;
  /** Sent as a Cookie header. */
  cookies?: Record<string, string>;
}

export interface InjectResponse {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string | string[]>;
  /** The body as UTF-8 text. */
  body: string;
  payload: string;
  rawPayload: BodyBuffer;
  /** The body parsed as JSON. */
  json<T = any>(): T;
  /** The Set-Cookie headers, parsed. */
  readonly cookies: Array<{
    name: string; value: string | undefined; path?: string; domain?: string; expires?: Date;
    maxAge?: number; httpOnly?: boolean; secure?: boolean; sameSite?: string | boolean;
    partitioned?: boolean; priority?: string;
  }>;
}

// ---- the app -------------------------------------------------------------------------------

export interface Limits {
  /** Largest request body in bytes (413 beyond). Default 1 MiB. */
  maxBodySize?: number;
  /** Longest request head (431 beyond). Default 32 KiB. */
  maxHeadSize?: number;
  /** Most header fields (431 beyond). Default 100. */
  maxHeaderCount?: number;
  /** Longest request-target (414 beyond). Default 8 KiB. */
  maxTargetSize?: number;
}

/** Options of `reply.sendFile()` and `app.static()`. */
export interface FileOptions {
  /** The directory the path is below (required for a relative path; `app.static` gives its own). */
  root?: string;
  /** `Cache-Control: public, max-age=<maxAge>` (seconds; default 0). */
  maxAge?: number;
  /** Adds `immutable` to Cache-Control (default false). */
  immutable?: boolean;
  /** Index files of a directory, tried in order (default `['index.html']`; `false`: none, 404). */
  index?: string | string[] | false;
  /** Serve `<file>.br` / `<file>.gz` when Accept-Encoding prefers them (default true). */
  precompressed?: boolean;
  /** Follow symbolic links that stay below the root (default true; false: refuse every link). */
  followSymlinks?: boolean;
  /** `/dir` → 301 to `/dir/` (default true; false: 404). */
  redirectDirectories?: boolean;
}

export type Encoding = 'br' | 'gzip' | 'zstd';

export interface CompressionOptions {
  /** Bodies shorter than this (bytes) are sent as they are. Default 1024. */
  threshold?: number;
  /**
   * The codings offered, most preferred first (the client's q-values decide first). Default
   * ['br', 'zstd', 'gzip'] (zstd when the addon was built with libzstd).
   */
  encodings?: Encoding[] | string;
  /** Default gzip 6 (1..9), brotli 4 (0..11), zstd 3 (1..19). */
  levels?: { gzip?: number; brotli?: number; zstd?: number };
}

export interface AppOptions {
  /** Engine worker threads; 0 (default): one per CPU. */
  threads?: number;
  /**
   * JavaScript threads that run the handlers (1 to 256; default 1, the thread that listens).
   * With more, each is a `worker_threads` Worker that loads the process's main module again and
   * builds the same app; its `listen()` attaches to the engine instead of starting one. Module
   * state is per thread. WebSocket routes are refused. README, "JavaScript on every core".
   */
  jsThreads?: number;
  /** Pin each worker to a CPU. Default true. */
  pinThreads?: boolean;
  /**
   * A request not answered within this long gets 503 (with hooks or handlers: the error
   * FST_ERR_HANDLER_TIMEOUT through the error handler; the engine answers 503 itself one second
   * later if that does not answer). Default 30000; 0: no limit.
   */
  handlerTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long. Default 60000. */
  idleTimeoutMs?: number;
  /** close() waits this long for in-flight requests. Default 10000. */
  drainTimeoutMs?: number;
  maxConnectionsPerWorker?: number;
  /** Same as limits.maxBodySize. */
  bodyLimit?: number;
  limits?: Limits;
  /** '/a/' matches '/a' and the other way round. Default false. */
  ignoreTrailingSlash?: boolean;
  /** Static path text is case-sensitive. Default true. */
  caseSensitive?: boolean;
  /** Which proxies' X-Forwarded-For/-Host/-Proto to believe. Default: none. */
  trustProxy?: TrustProxy;
  /** The default of the route option `body`. */
  body?: BodyMode;
  /** false: req.json() parses any Content-Type. Default true (415 for non-JSON types). */
  strictContentType?: boolean;
  /** Secret(s) for signed cookies; with an array, the first signs and all are accepted. */
  cookieSecret?: string | BodyBuffer | Array<string | BodyBuffer>;
  /** true (pino at level info), pino options (with an optional `stream`), or a pino instance. */
  logger?: boolean | Logger | (Record<string, unknown> & { stream?: unknown });
  /** A pino instance (Fastify 5's name). */
  loggerInstance?: Logger;
  /** No `incoming request` / `request completed` lines. Default false. */
  disableRequestLogging?: boolean;
  /** The key of the request id in req.log's lines. Default 'reqId'. */
  requestIdLogLabel?: string;
  /** A request header whose value is req.id when present (Fastify 5: default false). */
  requestIdHeader?: string | boolean;
  /** Makes req.id (when requestIdHeader is not set or absent). */
  genReqId?: (req: Request) => string | number;
  /**
   * Response compression by the engine, on its worker threads (gzip, br, zstd by
   * Accept-Encoding, with Vary): true for the defaults, false (default) for none.
   */
  compression?: boolean | CompressionOptions;
}

export interface ListenOptions {
  /** Default 0: a free port, chosen by the kernel. */
  port?: number;
  /** Default '127.0.0.1'; '0.0.0.0' for every interface. */
  host?: string;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

export interface ServerInfo {
  address: string;
  port: number;
  threads: number;
  url: string;
}

/** app.get(path, [options], handler) and its siblings. */
export interface RouteMethod {
  <P extends string>(path: P, handler: Handler<P>): App;
  <P extends string>(path: P, options: RouteOptions, handler: Handler<P>): App;
}

export interface App {
  /** The route prefix of this scope ('' for the app itself). */
  readonly prefix: string;
  get: RouteMethod;
  head: RouteMethod;
  post: RouteMethod;
  put: RouteMethod;
  patch: RouteMethod;
  delete: RouteMethod;
  options: RouteMethod;
  all: RouteMethod;
  route<P extends string>(definition: RouteDefinition<P>): this;
  /** A response served entirely by the engine (no JavaScript runs for it). */
  fixed(method: HTTPMethod | 'ALL', path: string, response: FixedResponse): this;
  /**
   * Serves the files of `dir` at `GET <prefix>/*` (HEAD too). Served by the engine alone when no
   * hook, not-found or error handler of the app would see its requests; otherwise through
   * JavaScript like `reply.sendFile`.
   */
  static(prefix: string, dir: string, options?: Omit<FileOptions, 'root'>): this;
  addHook<K extends keyof Hooks>(name: K, fn: Hooks[K]): this;
  setErrorHandler(handler: ErrorHandler): this;
  setNotFoundHandler(handler: NotFoundHandler): this;
  /**
   * Registers a plugin in a child scope: its hooks, error and not-found handlers and decorators
   * apply to its own routes and children only, unless the plugin is marked
   * `plugin[Symbol.for('skip-override')] = true` (fastify-plugin).
   */
  register<O = {}>(plugin: Plugin<O> | { default: Plugin<O> }, options?: O & PluginOptions): this;
  /** The app's logger (a no-op one without the `logger` option). */
  readonly log: Logger;
  /** Adds a member to this scope's app object (children see it, the parent does not). */
  decorate(name: string | symbol, value: unknown, dependencies?: Array<string | symbol>): this;
  /**
   * Adds a member to this scope's requests: a function (a method), `{ getter, setter }`, or a
   * primitive or null (set on every request; objects are refused).
   */
  decorateRequest(name: string | symbol, value: unknown, dependencies?: Array<string | symbol>): this;
  decorateReply(name: string | symbol, value: unknown, dependencies?: Array<string | symbol>): this;
  hasDecorator(name: string | symbol): boolean;
  hasRequestDecorator(name: string | symbol): boolean;
  hasReplyDecorator(name: string | symbol): boolean;
  signCookie(value: string): string;
  unsignCookie(value: string): UnsignResult;
  parseCookie(header: string): Record<string, string | undefined>;
  /** Loads the plugins and freezes the routes. */
  ready(): Promise<this>;
  /** Resolves with the URL, e.g. 'http://127.0.0.1:3000'. */
  listen(options?: ListenOptions): Promise<string>;
  listen(port: number, host?: string): Promise<string>;
  /** Graceful: stops accepting, lets in-flight requests finish, then frees the server. */
  close(): Promise<void>;
  /** Not for WebSocket routes: inject() runs HTTP routes only. */
  inject(options?: InjectOptions | string): Promise<InjectResponse>;
  address(): AddressInfo | null;
  readonly server: ServerInfo | null;
  /**
   * A WebSocket route: the engine does the handshake (400/426 for a bad one), framing,
   * permessage-deflate, pings and topics; the handlers get whole messages. Hooks (onRequest...)
   * do not run for upgrades. `UserData` is the type of `ws.data`.
   */
  ws<UserData = Record<string, unknown>>(path: string, behaviour: WebSocketBehaviour<UserData>): this;
  /**
   * Sends `data` to every subscriber of `topic` on every worker (framed once per worker).
   * False when not handed over: the app is not listening, or worker 0 (which applies app.publish)
   * is 16 MiB behind, or 16 MiB of publishes are not delivered by every worker yet — a
   * synchronous loop outran them; yield (setImmediate) and publish again.
   */
  publish(topic: string, data: WebSocketMessage, isBinary?: boolean, compress?: boolean): boolean;
}

/** What a WebSocket message may be sent as. */
export type WebSocketMessage = string | ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

/** ws.send(): queued (1). */
export declare const SENT: 1;
/** ws.send(): queued, but the output is over maxBackpressure: wait for drain() (0). */
export declare const BACKPRESSURE: 0;
/**
 * ws.send(): not sent (2) — the socket is closed or closing, its output is full, or its worker is
 * 16 MiB of operations behind (a synchronous loop outran it: a drain follows once it caught up).
 */
export declare const DROPPED: 2;
export type SendResult = typeof SENT | typeof BACKPRESSURE | typeof DROPPED;

export interface WebSocket<UserData = Record<string, unknown>> {
  /** Per-socket data of the application ({} at open). */
  data: UserData;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The subprotocol the server chose, or ''. */
  readonly protocol: string;
  /** False once end() or close() was called or the socket closed. */
  readonly isOpen: boolean;
  /**
   * Queues a message: text unless `isBinary` (default: true for anything but a string).
   * `compress` (default true): deflate it when the client negotiated permessage-deflate and it
   * is at least the route's compression threshold.
   */
  send(data: WebSocketMessage, isBinary?: boolean, compress?: boolean): SendResult;
  /** The close handshake with `code` (1000-1003, 1007-1014, 3000-4999) and a reason ≤ 123 bytes. */
  end(code?: number, reason?: string): void;
  /** Closes TCP at once, without a close frame (the close handler gets 1006). */
  close(): void;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  getTopics(): string[];
  /**
   * To every subscriber of `topic` on every worker, except this socket. False when not handed
   * over: the app is not listening, the socket's worker is 16 MiB of operations behind, or 16 MiB
   * of publishes are not delivered by every worker yet.
   */
  publish(topic: string, data: WebSocketMessage, isBinary?: boolean, compress?: boolean): boolean;
  /** Unsent bytes as this thread knows them (the worker's last report plus what was sent since). */
  getBufferedAmount(): number;
}

export interface WebSocketCompression {
  /** Reset the server's compressor after each message (a shared one per worker; default true). */
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  /** 8..15 (default 15). */
  serverMaxWindowBits?: number;
  /** zlib level 0..9 (default 1). */
  level?: number;
  /** Messages shorter than this many bytes are sent uncompressed (default 64). */
  threshold?: number;
}

export interface WebSocketBehaviour<UserData = Record<string, unknown>> {
  open?: (ws: WebSocket<UserData>) => unknown;
  /** Text arrives as a string, binary as a Buffer (a copy: keep it as long as you like). */
  message?: (ws: WebSocket<UserData>, message: string | BodyBuffer, isBinary: boolean) => unknown;
  /** The output went back under maxBackpressure after send() returned BACKPRESSURE. */
  drain?: (ws: WebSocket<UserData>) => unknown;
  /** Once per socket: the peer's code (1005: none), the server's (1001, 1009, 1011...) or 1006. */
  close?: (ws: WebSocket<UserData>, code: number, reason: string) => unknown;
  /** Longest message accepted, in bytes (default 1 MiB); longer ones close the socket with 1009. */
  maxPayload?: number;
  /** uWebSockets.js's name for maxPayload. */
  maxPayloadLength?: number;
  /** Seconds without a byte from the client before it is closed with 1001 (default 120; 0: never). */
  idleTimeout?: number;
  /** Unsent bytes a socket may hold before send() says BACKPRESSURE (default 1 MiB). */
  maxBackpressure?: number;
  /** Over the limit: close the socket (1008) instead of dropping messages (default false). */
  closeOnBackpressureLimit?: boolean;
  /** Ping an idle client at half the idle timeout (default true). */
  sendPingsAutomatically?: boolean;
  /** permessage-deflate (default off). */
  compression?: boolean | WebSocketCompression;
  /** Subprotocols the server speaks: the client's first choice among them is taken. */
  subprotocols?: string[];
  /**
   * Binary messages are lent, not copied (default false): `message` is a Buffer over the
   * engine's ring, valid only until the message handler returns (before its first `await`), as
   * uWebSockets.js lends its ArrayBuffer. Copy it (`Buffer.from(message)`) to keep it. Sending
   * or publishing it from the handler is fine: that copies. Text messages are strings either way.
   */
  borrowMessages?: boolean;
  /**
   * Decides an upgrade request before the 101 is sent (authentication, origin checks): what it
   * returns or resolves to becomes `ws.data`; throwing (or rejecting with) an error with a
   * `statusCode` 4xx refuses the upgrade with that status and the error's message, anything
   * else refuses it with 500 (logged). The request is a full `req` (headers, query, ip, cookies).
   */
  upgrade?: (req: Request) => UserData | Promise<UserData>;
}

export declare function createApp(options?: AppOptions): App;
export declare function httpError(statusCode: number, message: string, cause?: unknown): HttpError;

declare const nexurejs: {
  createApp: typeof createApp;
  httpError: typeof httpError;
  SENT: typeof SENT;
  BACKPRESSURE: typeof BACKPRESSURE;
  DROPPED: typeof DROPPED;
};
export default nexurejs;
