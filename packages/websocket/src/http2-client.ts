/**
 * The client side of RFC 8441: WebSockets opened as streams of an HTTP/2 session. A
 * {@link Dialer} with `http2: true` keeps one {@link Http2Sessions} pool, which holds at most one
 * usable session per origin and opens every WebSocket to that origin as a stream of it, with an
 * extended CONNECT (`:method CONNECT`, `:protocol websocket`). A new session is tried only when
 * none has room: the first dial to an origin offers ALPN `h2` and `http/1.1` in its TLS
 * handshake, and waits for the server's SETTINGS. When the server picks `http/1.1`, the dial goes
 * on over HTTP/1.1 on that same connection; when it picks `h2` without advertising
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL`, the session is closed and the dial starts again over
 * HTTP/1.1. Either way the origin is remembered for a while, and dialled over HTTP/1.1 directly.
 *
 * A session closes as soon as no WebSocket and no dial uses it: it holds no idle connection open.
 *
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';
import {
  connect as http2Connect,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders as Http2IncomingHeaders,
  type IncomingHttpStatusHeader,
  type OutgoingHttpHeaders as Http2OutgoingHeaders,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { HandshakeError, type HandshakeResponse } from './errors.js';

/**
 * What the pool needs of a dial in progress (the Dialer's own attempt): its streams are dropped
 * and its promise rejected when the dial fails, times out or is aborted.
 *
 * @internal
 */
export interface DialAttempt {
  /** Whether the dial has failed already. */
  readonly failed: boolean;
  /** Adopts a stream: destroyed when the dial fails; its errors fail the dial. */
  track<T extends Duplex>(stream: T): T;
  /** Lets a stream go: it now belongs to someone else (a session), whatever becomes of the dial. */
  untrack(stream: Duplex): void;
  /** Settles with `promise`, unless the dial fails first. */
  race<T>(promise: Promise<T>): Promise<T>;
  /** The server has answered with an error: returns how long its body may take to arrive. */
  answered(): number;
}

/**
 * The request of a dial, in the form both protocols build their requests from.
 *
 * @internal
 */
export interface DialRequest {
  /** The authority: the URL's host and port, or the `Host` header the caller gave. */
  authority: string;
  /** The path and query. */
  path: string;
  /** The handshake's own headers beyond the version: subprotocols and extensions offered. */
  offers: [name: string, value: string][];
  /** The caller's extra headers, validated, in order (`Host` excluded). */
  headers: [name: string, value: string][];
}

/**
 * Where a dial goes: a WebSocket stream whose 2xx answer has arrived, or HTTP/1.1, on the given
 * socket (the server chose `http/1.1` in ALPN) or on a connection of its own.
 *
 * @internal
 */
export type Http2Route =
  { stream: ClientHttp2Stream; response: HandshakeResponse } | { http1: Duplex | undefined };

/**
 * Opens the byte stream to the origin with the given ALPN protocols offered: TCP (or netDial, or
 * a proxy's tunnel) and TLS, tracked by the dial's attempt.
 *
 * @internal
 */
export type OpenTls = (alpnProtocols: string[]) => Promise<Duplex>;

// How long an origin found without RFC 8441 is dialled over HTTP/1.1 without asking again.
const HTTP1_MEMORY_MS = 10 * 60_000;
// The most origins remembered that way; the oldest is forgotten first.
const HTTP1_MEMORY_SIZE = 256;
const BODY_LIMIT = 64 * 1024;
const ALPN = ['h2', 'http/1.1'];

function noop(): void {}

/** One session and what uses it. */
class PooledSession {
  readonly session: ClientHttp2Session;
  readonly origin: string;
  /**
   * Resolves once the server's SETTINGS arrive: `true` when they allow extended CONNECT. Rejects
   * when the session closes first.
   */
  readonly ready: Promise<boolean>;
  /** WebSocket streams open on the session, and dials waiting to open one. */
  users = 0;
  /** No new stream may be opened: the session is closing, closed, or was refused. */
  retired = false;

  constructor(session: ClientHttp2Session, origin: string) {
    this.session = session;
    this.origin = origin;
    this.ready = new Promise<boolean>((resolve, reject) => {
      const settle = (): void => {
        session.off('remoteSettings', settle);
        session.off('close', closed);
        resolve(session.remoteSettings.enableConnectProtocol === true);
      };
      const closed = (): void => {
        session.off('remoteSettings', settle);
        reject(new HandshakeError('the HTTP/2 session closed before its SETTINGS arrived', 0));
      };
      session.on('remoteSettings', settle);
      session.on('close', closed);
    });
    // Dials that gave up waiting must not leave the rejection unhandled.
    this.ready.catch(noop);
  }

  /** Whether one more stream fits under the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  get hasRoom(): boolean {
    const session = this.session;
    const limit = session.remoteSettings.maxConcurrentStreams ?? Infinity;
    return !this.retired && !session.closed && !session.destroyed && this.users < limit;
  }
}

/**
 * The HTTP/2 sessions of one Dialer, by origin (RFC 8441). See the module documentation.
 *
 * @internal
 */
export class Http2Sessions {
  readonly #sessions = new Map<string, PooledSession[]>();
  // Origins a dial is connecting to now: later dials wait for that session instead of their own.
  readonly #connecting = new Map<string, Promise<PooledSession | undefined>>();
  // Origins that answered without RFC 8441, with when to ask them again.
  readonly #http1Only = new Map<string, number>();

  /** The live sessions to `origin` (`host:port`), for tests and diagnostics. */
  sessions(origin: string): ClientHttp2Session[] {
    return (this.#sessions.get(origin) ?? []).map((pooled) => pooled.session);
  }

  /**
   * Opens a WebSocket stream to `url` on a session of the pool (a new one when none has room),
   * or says the dial must go over HTTP/1.1.
   *
   * @param url - the `wss:` URL.
   * @param request - the request, as the Dialer built it.
   * @param attempt - the dial's attempt: its deadline and signal bound every wait here.
   * @param open - opens a TLS connection to the origin.
   * @throws {HandshakeError} when the server refused the WebSocket (`response` holds its answer)
   *   or the stream closed before an answer.
   */
  async dial(
    url: URL,
    request: DialRequest,
    attempt: DialAttempt,
    open: OpenTls,
  ): Promise<Http2Route> {
    const origin = url.host;
    let pooled = this.#find(origin);
    const connecting = this.#connecting.get(origin);
    if (pooled === undefined && connecting !== undefined) {
      const joined = await attempt.race(connecting);
      if (joined?.hasRoom === true) pooled = joined;
    }
    if (this.#rememberedHttp1(origin)) return { http1: undefined };
    if (pooled === undefined) {
      const connected = this.#connect(origin, url, attempt, open);
      const socket = await connected.socket;
      if (socket !== undefined) return { http1: socket };
      pooled = (await connected.session)!;
    }
    pooled.users++;
    let opened = false;
    try {
      if (!(await attempt.race(pooled.ready))) {
        this.#refuse(pooled);
        return { http1: undefined };
      }
      const stream = attempt.track(pooled.session.request(requestHeaders(url, request)));
      const response = await attempt.race(answerOf(stream, attempt));
      opened = true;
      stream.once('close', () => this.#release(pooled));
      return { stream, response };
    } finally {
      if (!opened) this.#release(pooled);
    }
  }

  // A session with room, or one whose SETTINGS are still on their way (it may have room).
  #find(origin: string): PooledSession | undefined {
    for (const pooled of this.#sessions.get(origin) ?? []) if (pooled.hasRoom) return pooled;
    return undefined;
  }

  // Opens a connection to `origin`, announcing it to the dials that come meanwhile. `socket`
  // resolves with the connection when the server chose HTTP/1.1, else with undefined once
  // `session` holds the new session; both reject when the connection fails.
  #connect(
    origin: string,
    url: URL,
    attempt: DialAttempt,
    open: OpenTls,
  ): { socket: Promise<Duplex | undefined>; session: Promise<PooledSession | undefined> } {
    const socket = open(ALPN).then((tls) => tls as TLSSocket);
    const session = socket.then(
      (tls) => {
        if (tls.alpnProtocol === 'h2') return this.#start(origin, url, tls, attempt);
        this.#rememberHttp1(origin);
        return undefined;
      },
      () => undefined,
    );
    this.#connecting.set(origin, session);
    void session.then(() => {
      if (this.#connecting.get(origin) === session) this.#connecting.delete(origin);
    });
    return {
      socket: socket.then(async (tls) => ((await session) === undefined ? tls : undefined)),
      session,
    };
  }

  #start(origin: string, url: URL, socket: TLSSocket, attempt: DialAttempt): PooledSession {
    // The connection is the session's from now on, whatever becomes of this dial: other dials
    // may be waiting on the session already.
    attempt.untrack(socket);
    socket.setNoDelay(true);
    const session = http2Connect(`https://${url.host}`, {
      createConnection: () => socket,
      // Server push has no place in a WebSocket client.
      settings: { enablePush: false },
    });
    const pooled = new PooledSession(session, origin);
    // A session error surfaces on its streams (each WebSocket sees its own close); the session
    // itself is only dropped from the pool.
    session.on('error', () => this.#retire(pooled));
    session.on('goaway', () => this.#retire(pooled));
    session.on('close', () => this.#retire(pooled));
    const list = this.#sessions.get(origin);
    if (list === undefined) this.#sessions.set(origin, [pooled]);
    else list.push(pooled);
    return pooled;
  }

  // The server speaks HTTP/2 without extended CONNECT: its session is of no use to WebSockets.
  #refuse(pooled: PooledSession): void {
    this.#rememberHttp1(pooled.origin);
    this.#retire(pooled);
  }

  #release(pooled: PooledSession): void {
    pooled.users--;
    if (pooled.users > 0) return;
    this.#retire(pooled);
  }

  // Takes a session out of the pool; it closes once its streams have (at once when it has none).
  #retire(pooled: PooledSession): void {
    if (!pooled.retired) {
      pooled.retired = true;
      const list = this.#sessions.get(pooled.origin);
      const index = list?.indexOf(pooled) ?? -1;
      if (index >= 0) list!.splice(index, 1);
      if (list?.length === 0) this.#sessions.delete(pooled.origin);
    }
    if (pooled.users <= 0 && !pooled.session.closed) pooled.session.close();
  }

  #rememberedHttp1(origin: string): boolean {
    const until = this.#http1Only.get(origin);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#http1Only.delete(origin);
    return false;
  }

  #rememberHttp1(origin: string): void {
    this.#http1Only.delete(origin);
    if (this.#http1Only.size >= HTTP1_MEMORY_SIZE) {
      const oldest = this.#http1Only.keys().next().value;
      if (oldest !== undefined) this.#http1Only.delete(oldest);
    }
    this.#http1Only.set(origin, Date.now() + HTTP1_MEMORY_MS);
  }
}

/**
 * The extended CONNECT of RFC 8441 section 5: `:protocol websocket`, the URL's scheme as
 * `https`, its path and authority, version 13; no `Sec-WebSocket-Key`, `Connection` or
 * `Upgrade`. Header names go lower-case, as HTTP/2 requires.
 */
export function requestHeaders(url: URL, request: DialRequest): Http2OutgoingHeaders {
  const headers: Http2OutgoingHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': url.protocol === 'wss:' ? 'https' : 'http',
    ':path': request.path,
    ':authority': request.authority,
    'sec-websocket-version': '13',
  };
  for (const [name, value] of [...request.offers, ...request.headers]) {
    const lower = name.toLowerCase();
    const previous = headers[lower];
    if (previous === undefined) headers[lower] = value;
    else headers[lower] = [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  return headers;
}

/**
 * Waits for the server's answer on a WebSocket stream: resolves with a 2xx answer (RFC 8441: a
 * successful CONNECT), rejects with a {@link HandshakeError} holding any other answer and up to
 * 64 KiB of its body, or status 0 when the stream closed first.
 */
function answerOf(stream: ClientHttp2Stream, attempt: DialAttempt): Promise<HandshakeResponse> {
  return new Promise<HandshakeResponse>((resolve, reject) => {
    const onClose = (): void => {
      reject(
        new HandshakeError(
          `bad handshake: the stream closed before the answer (code ${stream.rstCode ?? 0})`,
          0,
        ),
      );
    };
    stream.once('close', onClose);
    stream.once('response', (headers: IncomingHttpStatusHeader & Http2IncomingHeaders) => {
      stream.off('close', onClose);
      const status = Number(headers[':status']);
      const response: HandshakeResponse = {
        status,
        statusText: '',
        headers: withoutPseudoHeaders(headers),
        body: Buffer.alloc(0),
      };
      if (status >= 200 && status < 300) {
        resolve(response);
        return;
      }
      void readBody(stream, attempt.answered()).then((body) => {
        stream.destroy();
        response.body = body;
        reject(
          new HandshakeError(`bad handshake: the server answered ${status}`, status, response),
        );
      });
    });
  });
}

function withoutPseudoHeaders(headers: Http2IncomingHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':')) out[name] = value;
  }
  return out;
}

// Up to BODY_LIMIT bytes of a refusal's body, whatever arrived within `timeoutMs`.
function readBody(stream: ClientHttp2Stream, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('close', done);
      resolve(Buffer.concat(chunks, Math.min(length, BODY_LIMIT)));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= BODY_LIMIT) done();
    };
    const timer = setTimeout(done, timeoutMs);
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('close', done);
  });
}
