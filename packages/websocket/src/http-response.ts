/**
 * Reading an HTTP/1.1 response (RFC 9112) from any byte stream: the answer to the client's opening
 * handshake and a proxy's answer to CONNECT. The head is parsed here rather than by Node's `http`
 * client so that the handshake runs over whatever stream a `netDial` returns, and so that the bytes
 * the server sends right after its 101 answer stay with the connection.
 *
 * @module
 */

import { maxHeaderSize, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { HandshakeError } from './errors.js';
import { isToken } from './handshake.js';

/** The status line and headers of a response. */
export interface ResponseHead {
  /** The status code. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: number;
  /** Header names lower-cased; repeated headers joined with `, `, `set-cookie` as an array. */
  headers: IncomingHttpHeaders;
}

/** What a stream delivered for a response head. */
export interface HeadResult {
  head: ResponseHead;
  /** The bytes that followed the head in the same read. */
  rest: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;

/** Returns the end of the head (the index past its empty line), or -1 when it is not complete. */
function findHeadEnd(buffer: Buffer, from: number): number {
  for (let i = buffer.indexOf(LF, from); i >= 0; i = buffer.indexOf(LF, i + 1)) {
    // RFC 9112 section 2.2: a lone LF may end a line; a CR before it is ignored.
    if (buffer[i + 1] === LF) return i + 2;
    if (buffer[i + 1] === CR && buffer[i + 2] === LF) return i + 3;
  }
  return -1;
}

function malformed(what: string): HandshakeError {
  return new HandshakeError(`malformed HTTP response: ${what}`, 0);
}

function isFieldValueChar(c: number): boolean {
  // VCHAR, obs-text, SP and HTAB (RFC 9110 section 5.5); no CR, LF, NUL or other controls.
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}

/**
 * Parses a response head (without its final empty line). Obsolete line folding is replaced by a
 * space, as RFC 9112 section 5.2 asks of a user agent.
 *
 * @throws {HandshakeError} (status 0) when the head is not an HTTP/1.x response.
 */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const statusLine = lines[0] ?? '';
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (!/^HTTP\/1\.[01] [0-9]{3}(?: |$)/.test(statusLine)) {
    throw malformed(`bad status line ${JSON.stringify(statusLine.slice(0, 64))}`);
  }
  const minorVersion = Number(statusLine[7]);
  const status = Number(statusLine.slice(9, 12));
  const statusText = statusLine.slice(13);
  const fields: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      const last = fields[fields.length - 1];
      if (last === undefined) throw malformed('folded line without a header');
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    // No whitespace may come between a field name and its colon (RFC 9112 section 5.1).
    if (!isToken(name)) throw malformed(`bad header line ${JSON.stringify(line.slice(0, 64))}`);
    fields.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of fields) {
    for (let i = 0; i < value.length; i++) {
      if (!isFieldValueChar(value.charCodeAt(i))) throw malformed(`bad value in header '${name}'`);
    }
    if (name === 'set-cookie') {
      (headers['set-cookie'] ??= []).push(value);
      continue;
    }
    const earlier = headers[name];
    headers[name] = earlier === undefined ? value : `${earlier as string}, ${value}`;
  }
  return { status, statusText, minorVersion, headers };
}

/** A reading in progress that the caller can abandon. */
export interface PendingRead {
  /** Stops reading and removes every listener this read added. */
  stop(): void;
}

/**
 * Reads a response head from `stream`. `onHead` is called synchronously from the stream's
 * `'data'` event that completes the head, after this read's listeners are removed, so the caller
 * can hand the stream (and `rest`) to its next reader without losing a byte. `onError` gets a
 * {@link HandshakeError} (status 0) for a malformed or oversized head or a stream that ends first,
 * or the stream's own error.
 */
export function readResponseHead(
  stream: Duplex,
  onHead: (result: HeadResult) => void,
  onError: (err: Error) => void,
): PendingRead {
  let buffer: Buffer = Buffer.alloc(0);
  let scanned = 0;
  const stop = (): void => {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onStreamError);
  };
  const onData = (chunk: Buffer): void => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    const end = findHeadEnd(buffer, Math.max(0, scanned - 2));
    if (end < 0) {
      scanned = buffer.length;
      if (buffer.length > maxHeaderSize) {
        stop();
        onError(malformed(`head larger than ${maxHeaderSize} bytes`));
      }
      return;
    }
    stop();
    let head: ResponseHead;
    try {
      head = parseResponseHead(buffer.subarray(0, end).toString('latin1').trimEnd());
    } catch (err) {
      onError(err as Error);
      return;
    }
    onHead({ head, rest: buffer.subarray(end) });
  };
  const onEnd = (): void => {
    stop();
    onError(new HandshakeError('connection closed before the HTTP response was complete', 0));
  };
  const onStreamError = (err: Error): void => {
    stop();
    onError(err);
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onStreamError);
  // A stream paused by an earlier reader does not restart when a 'data' listener is added.
  stream.resume();
  return { stop };
}

/** Whether a response to a GET or CONNECT can carry a body (RFC 9112 section 6.3). */
function hasBody(head: ResponseHead): boolean {
  return !(head.status < 200 || head.status === 204 || head.status === 304);
}

/**
 * Reads up to `limit` bytes of a response body from `stream`, as framed by `Content-Length`,
 * chunked `Transfer-Encoding`, or the end of the stream. Resolves with what arrived when the body
 * is complete, the limit is reached, the stream ends or fails, or `timeoutMs` passes: the body of
 * a refused handshake only helps the application tell why, so it never fails. Leaves the stream
 * to be destroyed by the caller.
 */
export function readResponseBody(
  stream: Duplex,
  head: ResponseHead,
  rest: Buffer,
  limit: number,
  timeoutMs: number,
): Promise<Buffer> {
  if (!hasBody(head)) return Promise.resolve(Buffer.alloc(0));
  const lengthHeader = head.headers['content-length'];
  const transferEncoding = head.headers['transfer-encoding'];
  const chunked = transferEncoding !== undefined && /(?:^|,)\s*chunked\s*$/i.test(transferEncoding);
  let remaining = Infinity; // bytes left in a Content-Length body
  if (!chunked && lengthHeader !== undefined) {
    // Repeated identical values are allowed (RFC 9112 section 6.3, item 5).
    const values = new Set(lengthHeader.split(',').map((v) => v.trim()));
    const only = values.size === 1 ? [...values][0]! : '';
    remaining = /^[0-9]{1,15}$/.test(only) ? Number(only) : 0;
  }
  const decoder = chunked ? new ChunkedDecoder() : null;
  const pieces: Buffer[] = [];
  let length = 0;

  return new Promise<Buffer>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', finish);
      stream.off('close', finish);
      stream.off('error', finish);
      const body = Buffer.concat(pieces, length);
      resolve(body.length > limit ? body.subarray(0, limit) : body);
    };
    // Returns whether the body is complete.
    const take = (chunk: Buffer): boolean => {
      if (decoder !== null) {
        const done = decoder.push(chunk, (data) => {
          pieces.push(data);
          length += data.length;
        });
        return done || length >= limit;
      }
      const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      pieces.push(piece);
      length += piece.length;
      remaining -= piece.length;
      return remaining === 0 || length >= limit;
    };
    const onData = (chunk: Buffer): void => {
      if (take(chunk)) finish();
    };
    const timer = setTimeout(finish, Math.max(0, timeoutMs));
    timer.unref();
    if ((rest.length > 0 && take(rest)) || remaining === 0) {
      finish();
      return;
    }
    stream.on('data', onData);
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
    stream.resume();
  });
}

/** Decodes `Transfer-Encoding: chunked` (RFC 9112 section 7.1), ignoring extensions and trailers. */
class ChunkedDecoder {
  #state: 'size' | 'data' | 'data-end' | 'done' = 'size';
  #line = '';
  #left = 0; // bytes left in the current chunk

  /** Feeds bytes; returns true once the last chunk has been read. */
  push(input: Buffer, onData: (data: Buffer) => void): boolean {
    let i = 0;
    while (i < input.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, input.length - i);
        onData(input.subarray(i, i + n));
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'data-end';
        continue;
      }
      const c = input[i++]!;
      if (c !== LF) {
        if (this.#line.length > 1024)
          this.#state = 'done'; // not chunked encoding after all
        else this.#line += String.fromCharCode(c);
        continue;
      }
      const line = this.#line.trim();
      this.#line = '';
      if (this.#state === 'data-end') {
        this.#state = 'size';
        continue;
      }
      const size = Number.parseInt(line.split(';')[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0) {
        this.#state = 'done';
      } else if (size === 0) {
        this.#state = 'done';
      } else {
        this.#left = size;
        this.#state = 'data';
      }
    }
    return this.#state === 'done';
  }
}
