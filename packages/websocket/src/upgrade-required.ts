/**
 * The 426 Upgrade Required answers (RFC 7231 section 6.5.15) a websocket route gives to plain
 * HTTP, and the silencing of a framework's response once the upgrade layer owns its socket.
 *
 * @module
 */

import { STATUS_CODES, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

const UPGRADE_REQUIRED_BODY = `${STATUS_CODES[426]}\n`;

// A fresh object per answer, so that no response shares its header object with another.
function upgradeRequiredHeaders(): OutgoingHttpHeaders {
  return {
    Upgrade: 'websocket',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(UPGRADE_REQUIRED_BODY),
  };
}

/**
 * Answers a plain HTTP request (no upgrade) to a websocket-only route: 426 Upgrade Required with
 * `Upgrade: websocket` (RFC 7231 section 6.5.15). The connection stays usable for keep-alive.
 */
export function respondUpgradeRequired(res: ServerResponse): void {
  res.writeHead(426, upgradeRequiredHeaders());
  res.end(UPGRADE_REQUIRED_BODY);
}

type Write = ServerResponse['write'];
type End = ServerResponse['end'];
type Callback = (err?: Error | null) => void;

function lastCallback(args: unknown[]): Callback | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Callback) : undefined;
}

// A write that goes nowhere still completes, so the framework's bookkeeping finishes.
function discardWrite(args: unknown[]): void {
  const callback = lastCallback(args);
  if (callback !== undefined) process.nextTick(callback);
}

/**
 * Replaces the framework's answer with 426 Upgrade Required (with `Upgrade: websocket`, RFC 7231
 * section 6.5.15) whenever its status satisfies `when`: the framework's headers and body are
 * dropped, and the connection's keep-alive is kept. `onAnswer` is called as any answer starts.
 * The layer uses it for plain HTTP routes reached by an upgrade request (2xx replaced); adapters
 * for a plain GET that reached a websocket-only route (the framework's 404 replaced).
 *
 * A ServerResponse writes its head through `writeHead` (directly, or through `_implicitHeader`
 * from `write`, `end` and `flushHeaders`), so watching `writeHead`, `write` and `end` on the
 * instance sees every answer. Call it before the framework starts answering.
 */
export function replaceWithUpgradeRequired(
  res: ServerResponse,
  when: (status: number) => boolean,
  onAnswer?: () => void,
): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let replaced = false;

  res.writeHead = (statusCode: number, ...rest: unknown[]) => {
    onAnswer?.();
    if (!res.headersSent && when(statusCode)) {
      replaced = true;
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      return writeHead(426, STATUS_CODES[426], upgradeRequiredHeaders());
    }
    return writeHead(statusCode, ...rest);
  };

  res.write = ((...args: unknown[]) => {
    if (!res.headersSent && when(res.statusCode)) res.writeHead(res.statusCode);
    if (replaced) {
      discardWrite(args);
      return true;
    }
    onAnswer?.();
    return write(...args);
  }) as Write;

  res.end = ((...args: unknown[]) => {
    if (!res.headersSent && when(res.statusCode)) res.writeHead(res.statusCode);
    onAnswer?.();
    if (replaced) {
      const callback = lastCallback(args);
      return callback === undefined
        ? end(UPGRADE_REQUIRED_BODY)
        : end(UPGRADE_REQUIRED_BODY, callback);
    }
    return end(...args);
  }) as End;
}

/**
 * Makes a response write nothing: after the upgrade (or after the layer answered itself), the
 * framework may still try to answer (Express's final handler after a route called next(), Koa's
 * respond step). Those writes go nowhere, and `end` still reports completion so the framework's
 * bookkeeping finishes.
 *
 * @internal
 */
export function silenceResponse(res: ServerResponse): void {
  res.writeHead = () => res;
  res.write = ((...args: unknown[]) => {
    discardWrite(args);
    return true;
  }) as Write;
  res.end = ((...args: unknown[]) => {
    discardWrite(args);
    return res;
  }) as End;
  res.flushHeaders = noop;
}

function noop(): void {}
