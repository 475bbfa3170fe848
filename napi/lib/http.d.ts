// nexurejs/http: a node:http-compatible server on the nexurejs engine (README, "nexurejs/http").
// The request and response objects are Node's own http.IncomingMessage and http.ServerResponse.
import type * as http from 'node:http';
import type { EventEmitter } from 'node:events';
import type { AppOptions } from './index';

export interface ServerOptions<
  Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
  Response extends typeof http.ServerResponse = typeof http.ServerResponse,
> {
  IncomingMessage?: Request;
  ServerResponse?: Response;
  /** Milliseconds an idle keep-alive connection is kept (default 5000). */
  keepAliveTimeout?: number;
  /** Options of the engine under the server (createApp options: threads, limits, ...). */
  nexure?: AppOptions;
}

export declare class Server<
  Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
  Response extends typeof http.ServerResponse = typeof http.ServerResponse,
> extends EventEmitter {
  constructor(options?: ServerOptions<Request, Response>, listener?: http.RequestListener<Request, Response>);
  constructor(listener?: http.RequestListener<Request, Response>);
  listening: boolean;
  keepAliveTimeout: number;
  timeout: number;
  listen(port?: number, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number, listeningListener?: () => void): this;
  listen(options: { port?: number; host?: string }, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  address(): { address: string; family: string; port: number } | null;
  close(callback?: (err?: Error) => void): this;
  setTimeout(msecs?: number, callback?: (socket: unknown) => void): this;
  ref(): this;
  unref(): this;
}

export declare function createServer<
  Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
  Response extends typeof http.ServerResponse = typeof http.ServerResponse,
>(options: ServerOptions<Request, Response>, listener?: http.RequestListener<Request, Response>): Server<Request, Response>;
export declare function createServer<
  Request extends typeof http.IncomingMessage = typeof http.IncomingMessage,
  Response extends typeof http.ServerResponse = typeof http.ServerResponse,
>(listener?: http.RequestListener<Request, Response>): Server<Request, Response>;

export declare const IncomingMessage: typeof http.IncomingMessage;
export declare const ServerResponse: typeof http.ServerResponse;
export declare const OutgoingMessage: typeof http.OutgoingMessage;
export declare const STATUS_CODES: typeof http.STATUS_CODES;
export declare const METHODS: typeof http.METHODS;
export declare const validateHeaderName: typeof http.validateHeaderName;
export declare const validateHeaderValue: typeof http.validateHeaderValue;
export declare const maxHeaderSize: number;
