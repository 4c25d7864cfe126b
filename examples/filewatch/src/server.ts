/**
 * The filewatch example's server (gorilla's `examples/filewatch`): `/` serves a page showing the
 * file, and `/ws` pushes the file's new content to the page each time it changes.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import {
  CloseGoingAway,
  PingMessage,
  Upgrader,
  type Conn,
  type PreparedMessage,
  type UpgraderOptions,
} from '@silverback/websocket';
import { createPageServer, listen } from '@silverback/example-shared';
import { FileWatcher, type Snapshot } from './watcher.js';

/** Time allowed to write the file to the client, in milliseconds. Gorilla: `writeWait`. */
export const writeWait = 10_000;

/** Time allowed to read the next pong from the client, in milliseconds. Gorilla: `pongWait`. */
export const pongWait = 60_000;

/** How often to ping the client; less than `pongWait`. Gorilla: `pingPeriod`. */
export const pingPeriod = (pongWait * 9) / 10;

/**
 * How often to look at the file, in milliseconds. Gorilla polls every 10 s; a second makes the
 * page follow an editor's saves closely for the cost of one `stat` a second.
 */
export const filePeriod = 1000;

/** The largest message the client may send, in bytes; it has nothing to say but pongs. */
export const maxMessageSize = 512;

/** Where the page template lives; `src/` and `dist/` are both one level below it. */
export const filewatchPagePath = join(__dirname, '..', 'public', 'index.html');

/** Options of {@link startFilewatch}. */
export interface FilewatchOptions {
  /** The file to show. */
  file: string;
  /** The TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** The address to listen on; default `127.0.0.1`. */
  host?: string;
  /** How often to look at the file, in milliseconds; default {@link filePeriod}. */
  filePeriod?: number;
  /** Ping period in milliseconds; default {@link pingPeriod}. */
  pingPeriod?: number;
  /** Read deadline after each pong in milliseconds; default {@link pongWait}. */
  pongWait?: number;
  /** Options for the {@link Upgrader}; the default same-origin check stays on unless replaced. */
  upgrader?: UpgraderOptions;
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** A running filewatch server. */
export interface FilewatchServer {
  /** The HTTP server. */
  server: Server;
  /** The page's address, `http://<host>:<port>/`. */
  url: string;
  /** The connections being kept up to date. */
  conns: ReadonlySet<Conn>;
  /**
   * Closes every connection with 1001 Going Away, stops watching, then closes the server. Calling
   * it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Starts the filewatch server and resolves once it listens.
 *
 * @throws {RangeError} when `pingPeriod` is not less than `pongWait`.
 * @throws the `listen` error (`EADDRINUSE`, say) when the port cannot be bound.
 */
export async function startFilewatch(options: FilewatchOptions): Promise<FilewatchServer> {
  const log = options.log ?? (() => {});
  const timing = {
    pingPeriod: options.pingPeriod ?? pingPeriod,
    pongWait: options.pongWait ?? pongWait,
  };
  if (!(timing.pingPeriod < timing.pongWait)) {
    throw new RangeError('filewatch: pingPeriod must be less than pongWait');
  }
  const template = (await readFile(filewatchPagePath)).toString('utf8');
  const upgrader = new Upgrader(options.upgrader);
  const watcher = new FileWatcher(options.file, options.filePeriod ?? filePeriod);
  const conns = new Set<Conn>();
  const serving = new Set<Promise<void>>();

  const server = createPageServer({
    page: () => watcher.snapshot().then((snapshot) => renderPage(template, snapshot)),
    socketPath: '/ws',
    upgrade(req, socket, head) {
      const lastMod = parseLastMod(req);
      upgrader.upgrade(req, socket, head).then(
        (conn) => {
          conns.add(conn);
          const done = serveConn(conn, watcher, lastMod, timing).finally(() => {
            conns.delete(conn);
            serving.delete(done);
          });
          serving.add(done);
        },
        // The upgrader has answered the HTTP error itself.
        (err: Error) => log(`upgrade: ${err.message}`),
      );
    },
  });

  watcher.start();
  const { url, close } = await listen(
    server,
    { port: options.port, host: options.host ?? '127.0.0.1' },
    async () => {
      await Promise.all([...conns].map((conn) => conn.closeGracefully(CloseGoingAway, '', 1000)));
      await Promise.all(serving);
      await watcher.stop();
    },
  );
  return { server, url, conns, close };
}

/**
 * Keeps one client up to date until its connection ends: sends the file if it changed since the
 * page was rendered, then each new version, and pings; reads only to see pongs and the close.
 * Gorilla: `serveWs`, `writer` and `reader`.
 */
async function serveConn(
  conn: Conn,
  watcher: FileWatcher,
  lastMod: bigint,
  timing: { pingPeriod: number; pongWait: number },
): Promise<void> {
  const send = (message: PreparedMessage): void => {
    conn.setWriteDeadline(Date.now() + writeWait);
    // A write that fails (the deadline passed) ends the connection, and with it the read loop.
    conn.writePreparedMessage(message).catch(() => conn.close());
  };
  const onChange = (snapshot: Snapshot): void => send(snapshot.message);
  watcher.on('change', onChange);
  const ticker = setInterval(() => {
    conn.writeControl(PingMessage, '', Date.now() + writeWait).catch(() => conn.close());
  }, timing.pingPeriod);
  try {
    // Listening started first, so a change from here on is sent at least once.
    const snapshot = await watcher.snapshot();
    // The page showed the content of `lastMod` (0 when it showed an error).
    const stale = snapshot.error ? lastMod !== 0n : snapshot.lastMod > lastMod;
    if (stale) send(snapshot.message);

    conn.setReadLimit(maxMessageSize);
    conn.setReadDeadline(Date.now() + timing.pongWait);
    conn.setPongHandler(() => conn.setReadDeadline(Date.now() + timing.pongWait));
    for await (const _ of conn) {
      // The page sends nothing; reading is what answers pings and sees the close.
    }
  } catch {
    // A read deadline, read limit or lost peer: the connection is done.
  } finally {
    watcher.off('change', onChange);
    clearInterval(ticker);
    conn.close();
  }
}

/** Fills the page template: the file's text (escaped) and its modification time. */
export function renderPage(template: string, snapshot: Snapshot): string {
  return template
    .replace('{{lastMod}}', snapshot.lastMod.toString())
    .replace('{{data}}', () => escapeHtml(snapshot.text));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The modification time (nanoseconds) of the content the page showed; 0 when unknown.
function parseLastMod(req: IncomingMessage): bigint {
  const value = new URL(req.url ?? '/', 'http://host').searchParams.get('lastMod');
  if (value === null || !/^\d{1,30}$/.test(value)) return 0n;
  return BigInt(value);
}
