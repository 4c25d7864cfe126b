/**
 * A `ws` client whose messages, pings and close are taken in order as promises, for tests that
 * talk to a server the way a well-behaved peer does.
 */
import { once } from 'node:events';
import WebSocket, { type ClientOptions } from 'ws';
import type { Cleanups } from './cleanups';

/** A received message: text as a string, binary as a Buffer. */
export type WsMessage = string | Buffer;

/** A connected `ws` client. */
export interface WsClient {
  ws: WebSocket;
  /** Resolves with the next message; rejects if the connection closes first. */
  next(): Promise<WsMessage>;
  /** Resolves with the next `count` messages. */
  take(count: number): Promise<WsMessage[]>;
  /** Resolves once `count` more pings have arrived (`ws` answers each with a pong). */
  pings(count: number): Promise<void>;
  /** Resolves with the close code and reason once the connection has closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** Whether the connection is still open. */
  readonly open: boolean;
}

/**
 * Connects to `url` and resolves once the handshake is done.
 *
 * @throws when the server refuses the upgrade (the error message carries the status).
 */
export async function connectWs(url: string, options: ClientOptions = {}): Promise<WsClient> {
  const ws = new WebSocket(url, options);
  const messages: WsMessage[] = [];
  const takers: { resolve: (m: WsMessage) => void; reject: (e: Error) => void }[] = [];
  let pingCount = 0;
  const pingWaiters: { at: number; resolve: () => void }[] = [];
  let isClosed = false;

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const message = isBinary ? data : data.toString('utf8');
    const taker = takers.shift();
    if (taker) taker.resolve(message);
    else messages.push(message);
  });
  ws.on('ping', () => {
    pingCount++;
    for (let i = pingWaiters.length - 1; i >= 0; i--) {
      if (pingCount >= pingWaiters[i]!.at) pingWaiters.splice(i, 1)[0]!.resolve();
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      isClosed = true;
      for (const taker of takers.splice(0)) taker.reject(new Error(`closed with ${code}`));
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
  ws.on('error', () => {
    // 'close' follows and reports the ending; the handshake failure surfaces through `once`.
  });
  await Promise.race([
    once(ws, 'open'),
    once(ws, 'unexpected-response').then(([, res]: unknown[]) => {
      ws.terminate();
      const status = (res as { statusCode?: number }).statusCode;
      throw new Error(`handshake refused with ${String(status)}`);
    }),
    once(ws, 'close').then(() => {
      throw new Error('connection closed during handshake');
    }),
  ]);

  const next = (): Promise<WsMessage> => {
    if (messages.length > 0) return Promise.resolve(messages.shift()!);
    if (isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => takers.push({ resolve, reject }));
  };
  return {
    ws,
    next,
    async take(count) {
      const out: WsMessage[] = [];
      while (out.length < count) out.push(await next());
      return out;
    },
    pings(count) {
      const at = pingCount + count;
      return new Promise((resolve) => pingWaiters.push({ at, resolve }));
    },
    closed,
    get open() {
      return !isClosed;
    },
  };
}

/** Opens plain `ws` clients for a test file and terminates them with its cleanups. */
export interface WsClients {
  /**
   * Starts connecting to `path` on 127.0.0.1:`port`. A refused handshake is the test's to see,
   * through `'unexpected-response'`.
   */
  client(port: number, path: string, options?: ClientOptions, protocols?: string[]): WebSocket;
  /** Connects as {@link WsClients.client} does and resolves once the handshake is done. */
  open(
    port: number,
    path: string,
    options?: ClientOptions,
    protocols?: string[],
  ): Promise<WebSocket>;
}

/** Returns the {@link WsClients} of a test file, whose cleanups terminate every client. */
export function wsClients(cleanups: Cleanups): WsClients {
  const client: WsClients['client'] = (port, path, options = {}, protocols = []) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, options);
    // Terminating a client still connecting reports an error; the test is over by then.
    cleanups.push(() => {
      ws.on('error', () => {});
      ws.terminate();
    });
    return ws;
  };
  return {
    client,
    async open(port, path, options, protocols) {
      const ws = client(port, path, options, protocols);
      await once(ws, 'open');
      return ws;
    },
  };
}

/** Resolves with the next message a `ws` client receives, as text. */
export function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
}

/** Resolves with the close code and reason once a `ws` client's connection has closed. */
export async function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}
