/**
 * The permessage-deflate extension (RFC 7692): negotiation on both sides, and the per-connection
 * compressor and decompressor.
 *
 * @module
 */

import {
  constants as zlibConstants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';
import { formatExtension, parseExtensions, type ExtensionOffer } from './handshake.js';

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The four bytes every sync flush ends with, removed by the sender (RFC 7692 section 7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * How permessage-deflate is offered and accepted. `enableCompression: true` means the defaults;
 * an object adjusts them.
 */
export interface CompressionOptions {
  /**
   * Server: always answer `server_no_context_takeover` (the server resets its compressor after
   * each message, trading ratio for memory). Client: ask for it. Default false.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: always answer `client_no_context_takeover`, so the client resets its compressor after
   * each message and the server can drop its decompressor between messages. Client: offer it.
   * Default false.
   */
  clientNoContextTakeover?: boolean;
  /** The largest LZ77 window (8 to 15 bits) the server's compressor may use. Default 15. */
  serverMaxWindowBits?: number;
  /** The largest LZ77 window (8 to 15 bits) the client's compressor may use. Default 15. */
  clientMaxWindowBits?: number;
  /** The zlib compression level (-1 to 9); `setCompressionLevel` changes it per connection. Default 1. */
  level?: number;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
}

/** What was negotiated for one connection. */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, in bits. */
  serverMaxWindowBits: number;
  /** The client's LZ77 window, in bits. */
  clientMaxWindowBits: number;
}

/** Normalises `enableCompression` into options, or `undefined` when compression is off. */
export function compressionOptions(
  enable: boolean | CompressionOptions | undefined,
): CompressionOptions | undefined {
  if (enable === undefined || enable === false) return undefined;
  const options = enable === true ? {} : enable;
  for (const bits of [options.serverMaxWindowBits, options.clientMaxWindowBits]) {
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
      throw new RangeError('websocket: max window bits must be an integer from 8 to 15');
    }
  }
  if (options.level !== undefined && !isCompressionLevel(options.level)) {
    throw new RangeError('websocket: compression level must be an integer from -1 to 9');
  }
  return options;
}

/** Returns whether `level` is a zlib compression level. */
export function isCompressionLevel(level: number): boolean {
  return Number.isInteger(level) && level >= -1 && level <= 9;
}

// RFC 7692 section 7.1.2: a window size is a decimal integer from 8 to 15, no leading zero.
function parseWindowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/** The parameters of one offer or answer, or `undefined` when one is unknown, repeated or bad. */
interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

function readParams(offer: ExtensionOffer): ParsedParams | undefined {
  const parsed: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, values] of offer.params) {
    if (values.length !== 1) return undefined; // a repeated parameter
    const value = values[0]!;
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        parsed.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = parseWindowBits(value);
        if (bits === undefined) return undefined;
        parsed.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true) {
          parsed.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === undefined) return undefined;
        parsed.clientMaxWindowBits = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return parsed;
}

/** The server's answer to a client's offers. */
export interface ServerNegotiation {
  params: DeflateParams;
  /** The `Sec-WebSocket-Extensions` value to answer with. */
  response: string;
}

/**
 * Chooses the first of the client's permessage-deflate offers that the server can accept (RFC 7692
 * section 7.1), declining the others, and builds the answer. Returns `undefined` when no offer is
 * acceptable or the header is malformed: the connection then runs uncompressed.
 *
 * An offer is declined when it has an unknown, repeated or invalid parameter (section 5.1), or
 * when the server's own settings cannot meet it.
 */
export function negotiateServer(
  header: string | undefined,
  options: CompressionOptions,
): ServerNegotiation | undefined {
  const offers = parseExtensions(header);
  if (offers === null) return undefined;
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const requested = readParams(offer);
    if (requested === undefined) continue;
    const answer: [string, string | true][] = [];

    // Section 7.1.1.1: the server may always answer server_no_context_takeover, and must when asked.
    const serverNoContextTakeover =
      requested.serverNoContextTakeover || options.serverNoContextTakeover === true;
    if (serverNoContextTakeover) answer.push(['server_no_context_takeover', true]);

    // Section 7.1.1.2: the server may always answer client_no_context_takeover; echoing the
    // client's hint lets the server drop its decompressor's context.
    const clientNoContextTakeover =
      requested.clientNoContextTakeover || options.clientNoContextTakeover === true;
    if (clientNoContextTakeover) answer.push(['client_no_context_takeover', true]);

    // Section 7.1.2.1: answer with a window no larger than the client asked for; the server may
    // also limit itself unasked.
    const ownLimit = options.serverMaxWindowBits ?? 15;
    const serverMaxWindowBits = Math.min(ownLimit, requested.serverMaxWindowBits ?? 15);
    if (requested.serverMaxWindowBits !== undefined || ownLimit < 15) {
      answer.push(['server_max_window_bits', String(serverMaxWindowBits)]);
    }

    // Section 7.1.2.2: client_max_window_bits may only be answered when offered.
    let clientMaxWindowBits = 15;
    const clientLimit = options.clientMaxWindowBits ?? 15;
    if (requested.clientMaxWindowBits !== undefined) {
      const offered = requested.clientMaxWindowBits === true ? 15 : requested.clientMaxWindowBits;
      clientMaxWindowBits = Math.min(offered, clientLimit);
      if (clientMaxWindowBits < 15) {
        answer.push(['client_max_window_bits', String(clientMaxWindowBits)]);
      }
    } else if (clientLimit < 15) {
      continue; // the client cannot be told to use a smaller window: decline this offer
    }

    return {
      params: {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits,
        clientMaxWindowBits,
      },
      response: formatExtension(PERMESSAGE_DEFLATE, answer),
    };
  }
  return undefined;
}

/** Returns the client's offer for a `Sec-WebSocket-Extensions` header. */
export function clientOffer(options: CompressionOptions): string {
  const params: [string, string | true][] = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15) {
    params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  }
  // Always offered, so the server may shrink the client's window to save its own memory.
  params.push([
    'client_max_window_bits',
    options.clientMaxWindowBits !== undefined && options.clientMaxWindowBits < 15
      ? String(options.clientMaxWindowBits)
      : true,
  ]);
  return formatExtension(PERMESSAGE_DEFLATE, params);
}

/**
 * Checks the server's `Sec-WebSocket-Extensions` answer against the client's offer (RFC 7692
 * sections 5 and 7.1). Returns the negotiated parameters, `undefined` when the server declined,
 * or an error message when the answer is one the client must fail the connection for.
 */
export function acceptServerResponse(
  header: string | undefined,
  options: CompressionOptions | undefined,
): DeflateParams | undefined | string {
  if (header === undefined || header.trim() === '') return undefined;
  const answers = parseExtensions(header);
  if (answers === null) return 'malformed Sec-WebSocket-Extensions header';
  if (answers.length === 0) return undefined;
  if (options === undefined)
    return `server answered extension '${answers[0]!.name}' that was not offered`;
  if (answers.length > 1 || answers[0]!.name !== PERMESSAGE_DEFLATE) {
    return `server answered extensions that were not offered: ${header}`;
  }
  const params = readParams(answers[0]!);
  if (params === undefined) return `invalid permessage-deflate answer: ${header}`;
  if (params.clientMaxWindowBits === true) return 'client_max_window_bits answered without a value';
  const offeredServerBits =
    options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15;
  if (offeredServerBits && params.serverMaxWindowBits === undefined) {
    return 'server_max_window_bits offered but not answered';
  }
  if (
    params.serverMaxWindowBits !== undefined &&
    params.serverMaxWindowBits > (options.serverMaxWindowBits ?? 15)
  ) {
    return 'server_max_window_bits answered larger than offered';
  }
  if (options.serverNoContextTakeover && !params.serverNoContextTakeover) {
    return 'server_no_context_takeover offered but not answered';
  }
  // Section 7.1.2.2: the server may only shrink the client's window below what the client offered.
  if (
    params.clientMaxWindowBits !== undefined &&
    params.clientMaxWindowBits > (options.clientMaxWindowBits ?? 15)
  ) {
    return 'client_max_window_bits answered larger than offered';
  }
  const clientBits = params.clientMaxWindowBits ?? options.clientMaxWindowBits ?? 15;
  return {
    serverNoContextTakeover: params.serverNoContextTakeover,
    clientNoContextTakeover:
      params.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: params.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(clientBits, options.clientMaxWindowBits ?? 15),
  };
}

// -------------------------------------------------------------------------------------------------
// Compression work, bounded across all connections.

/**
 * Runs zlib jobs with bounded concurrency, so thousands of connections compressing at once queue
 * here (each holding only its own pending message) instead of flooding the thread pool.
 */
class JobQueue {
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  /** Runs `job` when a slot is free; the job calls `done` when it finishes. */
  run(job: (done: () => void) => void): void {
    if (this.#running < this.#concurrency) {
      this.#running++;
      job(() => this.#next());
    } else {
      this.#waiting.push(() => job(() => this.#next()));
    }
  }

  #next(): void {
    const job = this.#waiting.shift();
    if (job === undefined) this.#running--;
    else job();
  }
}

// As many jobs as the libuv thread pool has threads, plus slack so the pool never idles.
const zlibJobs = new JobQueue(Math.max(4, Number(process.env.UV_THREADPOOL_SIZE ?? 4)) * 2);

// Small messages are compressed and decompressed on the spot rather than through the thread pool:
// for a message of a few kilobytes zlib itself takes microseconds, while a round trip through the
// pool and Node's stream machinery costs tens. Larger work goes to the pool (above), so the event
// loop is never held for long.
const SYNC_DEFLATE_MAX = 64 * 1024; // message bytes compressed on the spot
const SYNC_INFLATE_PIECE_MAX = 4 * 1024; // compressed bytes of one piece inflated on the spot...
const SYNC_INFLATE_MESSAGE_MAX = 16 * 1024; // ...and of one whole message

/**
 * The part of a Node zlib stream that runs zlib synchronously on a persistent context: the same
 * binding `zlib.deflateRawSync` drives, which closes the context after one call. Checked at run
 * time; where a Node version lacks it, everything goes through the stream API instead.
 */
interface ZlibInternals {
  _handle: {
    writeSync(
      flush: number,
      input: Buffer,
      inputOffset: number,
      inputLength: number,
      output: Buffer,
      outputOffset: number,
      outputLength: number,
    ): void;
  } | null;
  _writeState: Uint32Array; // [output bytes left, input bytes left] after each call
}

function zlibInternals(stream: DeflateRaw | InflateRaw): ZlibInternals | undefined {
  const candidate = stream as unknown as Partial<ZlibInternals>;
  // Not `instanceof Uint32Array`: the array may come from another realm (a test runner's vm).
  return typeof candidate._handle?.writeSync === 'function' &&
    ArrayBuffer.isView(candidate._writeState) &&
    candidate._writeState.length === 2
    ? (candidate as ZlibInternals)
    : undefined;
}

const scratch = Buffer.allocUnsafe(64 * 1024);

type SyncResult = 'done' | 'stopped' | 'ended' | 'failed';

/**
 * Runs `input` through a zlib stream synchronously with a sync flush, handing each piece of output
 * (a view of a shared scratch buffer, valid until `onOutput` returns) to `onOutput`, which returns
 * false to stop. `'ended'`: the DEFLATE stream ended (a BFINAL block) before the input did.
 */
function processSync(
  zlib: ZlibInternals,
  stream: DeflateRaw | InflateRaw,
  input: Buffer,
  onOutput: (piece: Buffer) => boolean,
): SyncResult {
  let offset = 0;
  let available = input.length;
  for (;;) {
    const handle = zlib._handle;
    if (handle === null) return 'failed';
    handle.writeSync(
      zlibConstants.Z_SYNC_FLUSH,
      input,
      offset,
      available,
      scratch,
      0,
      scratch.length,
    );
    if (stream.destroyed) return 'failed'; // zlib reported an error and Node destroyed the stream
    const outputLeft = zlib._writeState[0]!;
    const inputLeft = zlib._writeState[1]!;
    const produced = scratch.length - outputLeft;
    if (produced > 0 && !onOutput(scratch.subarray(0, produced))) return 'stopped';
    offset += available - inputLeft;
    available = inputLeft;
    // Room left in the output means zlib is done with what it was given.
    if (outputLeft !== 0) return available > 0 ? 'ended' : 'done';
  }
}

/**
 * The compressor and decompressor of one connection. Used strictly one operation at a time per
 * direction: the connection queues its writes and pauses its reads around them.
 */
export class PerMessageDeflate {
  readonly #params: DeflateParams;
  readonly #isServer: boolean;
  readonly threshold: number;
  #level: number;
  #deflate: DeflateRaw | null = null;
  #deflateLevel = 0;
  #inflate: InflateRaw | null = null;
  #closed = false;
  #abortCompression: ((err: Error) => void) | null = null; // ends the compression in flight

  constructor(params: DeflateParams, isServer: boolean, options: CompressionOptions) {
    this.#params = params;
    this.#isServer = isServer;
    this.threshold = options.threshold ?? 1024;
    this.#level = options.level ?? 1;
  }

  /** The negotiated parameters. */
  get params(): DeflateParams {
    return this.#params;
  }

  /** This side's compression window in bits. */
  get ownWindowBits(): number {
    return this.#isServer ? this.#params.serverMaxWindowBits : this.#params.clientMaxWindowBits;
  }

  /** Whether this side resets its compressor after each message. */
  get ownNoContextTakeover(): boolean {
    return this.#isServer
      ? this.#params.serverNoContextTakeover
      : this.#params.clientNoContextTakeover;
  }

  /**
   * Whether messages may be compressed at all: zlib cannot compress raw deflate within an 8-bit
   * window (it widens it to 9), so a peer that limits this side to 8 bits gets uncompressed
   * messages, which RFC 7692 always allows.
   */
  get canCompress(): boolean {
    return this.ownWindowBits > 8;
  }

  /** The compression level for the next messages. */
  setLevel(level: number): void {
    this.#level = level;
  }

  /** The key of a prepared message's cached frame for this compressor, when it can be shared. */
  get preparedKey(): string | undefined {
    // A frame compressed apart from this connection's context can only be shared when this side
    // keeps no context between messages.
    if (!this.ownNoContextTakeover || !this.canCompress) return undefined;
    return `${this.#isServer ? 'server' : 'client'}:deflate:${this.ownWindowBits}:${this.#level}`;
  }

  /** Compresses one whole message without context, for a prepared message. */
  compressAlone(data: Buffer): Buffer {
    const out = deflateRawSync(data, {
      level: this.#level,
      windowBits: this.ownWindowBits,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
    });
    return stripTrailer(out);
  }

  /**
   * Compresses `data` as the next piece of the current message on the spot, when it is small
   * enough; returns `undefined` when it must go through {@link PerMessageDeflate.compress}.
   *
   * @throws {Error} when zlib fails (the compressor is then discarded).
   */
  compressSync(data: Buffer, fin: boolean): Buffer | undefined {
    if (data.length > SYNC_DEFLATE_MAX || this.#closed) return undefined;
    // A fresh context's first use touches its ~256 KiB of tables for the first time, which costs
    // tens of times a warm compression: a thousand new connections paying that on the event loop
    // at once would stall it, so the first message goes through the thread pool.
    if (this.#deflate === null || this.#deflateLevel !== this.#level) return undefined;
    const deflate = this.#deflater();
    const zlib = zlibInternals(deflate);
    if (zlib === undefined) return undefined;
    const pieces: Buffer[] = [];
    let length = 0;
    const result = processSync(zlib, deflate, data, (piece) => {
      pieces.push(Buffer.from(piece));
      length += piece.length;
      return true;
    });
    if (result === 'failed') {
      this.#deflate = null;
      throw new Error('websocket: compression failed');
    }
    let out = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
    if (fin) {
      out = finalPiece(out);
      if (this.ownNoContextTakeover) deflate.reset();
    }
    return out;
  }

  /**
   * Compresses `data` as the next piece of the current message through the thread pool; `fin`
   * ends the message (and drops the sync-flush trailer). Calls `callback` with the compressed
   * bytes.
   */
  compress(data: Buffer, fin: boolean, callback: (err: Error | null, out: Buffer) => void): void {
    zlibJobs.run((done) => {
      if (this.#closed) {
        done();
        callback(new Error('websocket: connection closed'), TRAILER);
        return;
      }
      const deflate = this.#deflater();
      const chunks: Buffer[] = [];
      let length = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        length += chunk.length;
      };
      const onError = (err: Error): void => {
        finish(err);
      };
      let finished = false;
      const finish = (err: Error | null): void => {
        if (finished) return;
        finished = true;
        this.#abortCompression = null;
        deflate.off('data', onData);
        deflate.off('error', onError);
        done();
        if (err !== null) {
          this.#deflate = null;
          callback(err, TRAILER);
          return;
        }
        let out =
          length === 0
            ? Buffer.alloc(0)
            : chunks.length === 1
              ? chunks[0]!
              : Buffer.concat(chunks, length);
        if (fin) {
          out = finalPiece(out);
          if (this.ownNoContextTakeover) deflate.reset();
        }
        callback(null, out);
      };
      deflate.on('data', onData);
      deflate.on('error', onError);
      this.#abortCompression = finish;
      if (data.length > 0) deflate.write(data);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => finish(null));
    });
  }

  #deflater(): DeflateRaw {
    if (this.#deflate === null || this.#deflateLevel !== this.#level) {
      this.#deflate?.close();
      this.#deflateLevel = this.#level;
      this.#deflate = createDeflateRaw({ level: this.#level, windowBits: this.ownWindowBits });
      // Errors reach the job's own listener; this one keeps a late error from crashing the process.
      this.#deflate.on('error', ignore);
    }
    return this.#deflate;
  }

  /**
   * Starts decompressing one message. `onOutput` receives the decompressed pieces in order and
   * returns false to stop (the message went over the read limit). Returns the writer of compressed
   * pieces.
   */
  decompressor(onOutput: (piece: Buffer) => boolean, onError: (err: Error) => void): Decompressor {
    return new Decompressor(this, onOutput, onError);
  }

  /** @internal */
  inflater(): InflateRaw {
    if (this.#inflate === null) {
      const peerBits = this.#isServer
        ? this.#params.clientMaxWindowBits
        : this.#params.serverMaxWindowBits;
      // zlib's inflater cannot decode within an 8-bit window; 9 bits decodes 8-bit streams too.
      this.#inflate = createInflateRaw({ windowBits: Math.max(9, peerBits) });
      this.#inflate.on('error', ignore);
    }
    return this.#inflate;
  }

  /** @internal */
  endInflate(broken: boolean): void {
    const peerNoContext = this.#isServer
      ? this.#params.clientNoContextTakeover
      : this.#params.serverNoContextTakeover;
    if (broken) {
      this.#inflate?.close();
      this.#inflate = null;
    } else if (peerNoContext) {
      this.#inflate?.reset();
    }
  }

  /** Frees the zlib streams; a compression in flight fails. */
  close(): void {
    this.#closed = true;
    this.#abortCompression?.(new Error('websocket: connection closed'));
    this.#deflate?.close();
    this.#deflate = null;
    this.#inflate?.close();
    this.#inflate = null;
  }
}

/**
 * Decompresses one message as its compressed pieces arrive. Small pieces are inflated on the spot;
 * once a piece is too large the rest of the message goes through the thread pool, one piece at a
 * time, as jobs of the same bounded queue the compressors use, so a thousand connections
 * receiving large messages at once cannot flood the pool (nor the event loop with their
 * results). `end` appends the trailer and reports when every piece has been decompressed.
 */
export class Decompressor {
  readonly #owner: PerMessageDeflate;
  readonly #inflate: InflateRaw;
  readonly #onOutput: (piece: Buffer) => boolean;
  readonly #onError: (err: Error) => void;
  #async = false; // using the thread pool, until the message ends
  #syncBytes = 0;
  #stopped = false;
  #ended = false; // the peer ended the DEFLATE stream (a block with BFINAL set)
  // The thread-pool side: pieces waiting, the job running, and who waits for them.
  readonly #inputs: Buffer[] = [];
  #jobDone: (() => void) | null = null;
  #onDrained: (() => void)[] = [];
  #pendingEnd: (() => void) | null = null;
  readonly #handleEnd = (): void => {
    this.#ended = true;
  };
  readonly #handleData = (piece: Buffer): void => {
    if (!this.#stopped && !this.#onOutput(piece)) this.#stop(true);
  };
  readonly #handleError = (err: Error): void => {
    if (this.#stopped) return;
    this.#stop(true);
    this.#onError(err);
  };

  constructor(
    owner: PerMessageDeflate,
    onOutput: (piece: Buffer) => boolean,
    onError: (err: Error) => void,
  ) {
    this.#owner = owner;
    this.#inflate = owner.inflater();
    this.#onOutput = onOutput;
    this.#onError = onError;
  }

  /**
   * Writes a compressed piece; returns false when it went to the thread pool, and the caller
   * should stop reading until `drained` calls back.
   */
  write(piece: Buffer): boolean {
    if (this.#stopped) return true;
    if (
      !this.#async &&
      piece.length <= SYNC_INFLATE_PIECE_MAX &&
      this.#syncBytes + piece.length <= SYNC_INFLATE_MESSAGE_MAX
    ) {
      const zlib = zlibInternals(this.#inflate);
      if (zlib !== undefined) {
        this.#syncBytes += piece.length;
        this.#inflateSync(zlib, piece);
        return true;
      }
    }
    this.#goAsync();
    this.#inputs.push(piece);
    this.#pump();
    return false;
  }

  /** Calls `callback` once every piece written so far has been decompressed. */
  drained(callback: () => void): void {
    if (this.#idle()) process.nextTick(callback);
    else this.#onDrained.push(callback);
  }

  /** Ends the message: `callback` runs once all its output has been delivered. */
  end(callback: () => void): void {
    if (this.#stopped) return;
    if (!this.#async) {
      const zlib = zlibInternals(this.#inflate);
      if (zlib !== undefined) {
        if (!this.#ended) this.#inflateSync(zlib, TRAILER);
        if (this.#stopped) return;
        this.#stop(this.#ended);
        callback();
        return;
      }
    }
    this.#goAsync();
    this.#pendingEnd = callback;
    this.#inputs.push(TRAILER);
    this.#pump();
  }

  /** Abandons the message (the connection failed). */
  abort(): void {
    if (!this.#stopped) this.#stop(true);
  }

  #inflateSync(zlib: ZlibInternals, input: Buffer): void {
    // Output is copied out of the scratch buffer: the connection keeps the pieces.
    const result = processSync(zlib, this.#inflate, input, (piece) =>
      this.#onOutput(Buffer.from(piece)),
    );
    if (result === 'ended') {
      this.#ended = true;
    } else if (result === 'stopped') {
      this.#stop(true);
    } else if (result === 'failed') {
      this.#stop(true);
      this.#onError(new Error('invalid compressed data'));
    }
  }

  #goAsync(): void {
    if (this.#async) return;
    this.#async = true;
    this.#inflate.on('data', this.#handleData);
    this.#inflate.on('error', this.#handleError);
    this.#inflate.on('end', this.#handleEnd);
  }

  #idle(): boolean {
    return this.#jobDone === null && this.#inputs.length === 0;
  }

  // Runs the next waiting piece as a job: write it, sync-flush, and take the output.
  #pump(): void {
    if (this.#stopped || this.#jobDone !== null) return;
    const input = this.#inputs.shift();
    if (input === undefined) {
      this.#settle();
      return;
    }
    this.#jobDone = noop; // taken: the queue may hold the job a while
    zlibJobs.run((done) => {
      if (this.#stopped) {
        done();
        return;
      }
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        done();
      };
      this.#jobDone = release;
      // RFC 7692 section 7.2.3.4 lets a sender end a message with a BFINAL block instead of a
      // sync flush: zlib then ends the stream, ignores what follows, and the next message needs
      // a fresh inflater.
      if (this.#ended) {
        process.nextTick(() => this.#jobFinished(release));
        return;
      }
      this.#inflate.write(input);
      this.#inflate.flush(zlibConstants.Z_SYNC_FLUSH, () => this.#jobFinished(release));
    });
  }

  #jobFinished(release: () => void): void {
    release();
    if (this.#jobDone !== release) return; // stopped meanwhile
    this.#jobDone = null;
    this.#pump();
  }

  // Nothing left to decompress: wake whoever waits, and end the message if asked.
  #settle(): void {
    const waiting = this.#onDrained;
    this.#onDrained = [];
    for (const callback of waiting) callback();
    const end = this.#pendingEnd;
    if (end === null || this.#stopped) return;
    this.#pendingEnd = null;
    this.#stop(this.#ended);
    end();
  }

  #stop(broken: boolean): void {
    this.#stopped = true;
    // A job in flight gives its slot back now; the queue must not wait for a dead message.
    const jobDone = this.#jobDone;
    this.#jobDone = null;
    jobDone?.();
    this.#inputs.length = 0;
    if (this.#async) {
      this.#inflate.off('data', this.#handleData);
      this.#inflate.off('error', this.#handleError);
      this.#inflate.off('end', this.#handleEnd);
    }
    this.#owner.endInflate(broken);
  }
}

function noop(): void {}

function ignore(): void {}

// A message's last piece, without the sync flush's trailer (RFC 7692 section 7.2.1). A piece
// that compressed to nothing (the pieces before it flushed everything, and zlib ignores a second
// flush) still ends the message with the start of an empty stored block, which the trailer the
// peer appends completes; sent empty, the peer would read that trailer as a broken block.
function finalPiece(out: Buffer): Buffer {
  return out.length === 0 ? Buffer.from([0x00]) : stripTrailer(out);
}

function stripTrailer(out: Buffer): Buffer {
  const n = out.length;
  if (
    n >= 4 &&
    out[n - 4] === 0x00 &&
    out[n - 3] === 0x00 &&
    out[n - 2] === 0xff &&
    out[n - 1] === 0xff
  ) {
    return out.subarray(0, n - 4);
  }
  return out;
}
