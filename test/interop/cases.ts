/**
 * The interop cases every pair runs, whichever side is ours: one connection per case, our `Conn`
 * at one end, a peer program echoing at the other, and a wire tap between them that shows how
 * each side framed what it sent.
 */
import { randomBytes } from 'node:crypto';
import {
  BinaryMessage,
  CloseError,
  PingMessage,
  PongMessage,
  TextMessage,
  type Conn,
  type DataMessageType,
} from '@silverback/websocket';
import { seededRandom } from '../helpers/payloads';
import type { PeerEvent, PeerProcess } from './peer-process';
import type { Direction, TappedConnection, TapMessage } from './wire-tap';

/** One connection between our `Conn` and a peer, as a case sees it. */
export interface Session {
  /** Our end. */
  conn: Conn;
  /** The role our end plays. */
  role: 'server' | 'client';
  /** The peer program. */
  peer: PeerProcess;
  /** The peer's number for this connection (its reports carry it). */
  peerConn: number;
  /** The peer's `open` report. */
  opened: PeerEvent;
  /** What crossed the wire. */
  wire: TappedConnection;
}

const MiB = 1024 * 1024;
/** Large enough that every peer echoes it in several frames (they split from 64 KiB). */
const FRAGMENTED_SIZE = 96 * 1024;

/**
 * Text of exactly `bytes` UTF-8 bytes: pseudo-random words with 2-, 3- and 4-byte characters
 * mixed in, compressible about as well as real text, the same on every run for a given `seed`.
 */
export function sampleText(bytes: number, seed: number): string {
  const key = `${bytes}:${seed}`;
  let text = samples.get(key);
  if (text === undefined) {
    text = generateText(bytes, seed);
    samples.set(key, text);
  }
  return text;
}

const samples = new Map<string, string>(); // every pair sends the same texts: make each once

function generateText(bytes: number, seed: number): string {
  const alphabet = [...'abcdefghijklmnopqrstuvwxyz      ', 'é', 'ß', '✓', '€', '👋', '𝄞'];
  const random = seededRandom(seed);
  const parts: string[] = [];
  let size = 0;
  for (;;) {
    const ch = alphabet[Math.floor(random() * alphabet.length)]!;
    const n = Buffer.byteLength(ch);
    if (size + n > bytes) break;
    parts.push(ch);
    size += n;
  }
  return parts.join('') + 'x'.repeat(bytes - size);
}

/**
 * Splits UTF-8 `data` into `count` pieces, each cut moved forward onto a continuation byte, so
 * every boundary falls inside a character and the receiver must validate across frames.
 */
function splitInsideCharacters(data: Buffer, count: number): Buffer[] {
  const cuts: number[] = [];
  for (let i = 1; i < count; i++) {
    let cut = Math.floor((data.length * i) / count);
    while (cut < data.length && (data[cut]! & 0xc0) !== 0x80) cut++;
    expect(cut).toBeLessThan(data.length); // the sample text has multibyte characters throughout
    cuts.push(cut);
  }
  return [0, ...cuts].map((start, i) => data.subarray(start, cuts[i] ?? data.length));
}

/** Writes `pieces` as one message through `nextWriter`, one frame per piece. */
async function writeInPieces(
  conn: Conn,
  type: DataMessageType,
  pieces: readonly Buffer[],
): Promise<void> {
  const writer = await conn.nextWriter(type);
  for (const piece of pieces.slice(0, -1)) {
    await new Promise<void>((resolve, reject) =>
      writer.write(piece, (err) => (err ? reject(err) : resolve())),
    );
  }
  await new Promise<void>((resolve, reject) => {
    writer.once('error', reject);
    writer.end(pieces.at(-1), resolve);
  });
}

/** Sends `data`, reads the echo, and checks it is the same type and the same bytes. */
async function roundTrip(conn: Conn, type: DataMessageType, data: Buffer): Promise<void> {
  const [, echo] = await Promise.all([conn.writeMessage(type, data), conn.readMessage()]);
  expectEcho(echo, type, data);
}

function expectEcho(echo: { type: number; data: Buffer }, type: number, data: Buffer): void {
  expect(echo.type).toBe(type);
  expect(echo.data.length).toBe(data.length);
  // Buffer.equals, not toEqual: a mismatch in a megabyte must not print the megabyte.
  expect(echo.data.equals(data)).toBe(true);
}

function directions(session: Session): { ours: Direction; theirs: Direction } {
  return session.role === 'server'
    ? { ours: 'toClient', theirs: 'toServer' }
    : { ours: 'toServer', theirs: 'toClient' };
}

/** The last data message sent each way: ours and the peer's echo of it. */
function lastExchange(session: Session): { sent: TapMessage; echoed: TapMessage } {
  const { ours, theirs } = directions(session);
  const sent = session.wire.messages(ours).at(-1);
  const echoed = session.wire.messages(theirs).at(-1);
  expect(sent).toBeDefined();
  expect(echoed).toBeDefined();
  // Clients mask every frame, servers none (RFC 6455 section 5.1).
  expect(sent!.masked).toBe(session.role === 'client');
  expect(echoed!.masked).toBe(session.role === 'server');
  return { sent: sent!, echoed: echoed! };
}

function payloads(session: Session, direction: Direction, opcode: number): string[] {
  return session.wire.controls(direction, opcode).map((f) => f.payload!.toString());
}

/** Registers the cases; `current()` returns the session `beforeEach` opened for the case. */
export function defineInteropCases(compress: boolean, current: () => Session): void {
  test(
    compress
      ? 'both ends see the same permessage-deflate answer'
      : 'no extension is offered or negotiated',
    () => {
      const { conn, opened, wire } = current();
      const offer = wire.head('toServer').match(/^sec-websocket-extensions:(.*)$/im)?.[1] ?? '';
      const answer = wire.responseHeader('Sec-WebSocket-Extensions') ?? '';
      expect(conn.extensions()).toBe(answer);
      expect(opened.extensions).toBe(answer);
      if (compress) {
        expect(offer).toMatch(/\bpermessage-deflate\b/);
        expect(answer.split(';')[0]!.trim()).toBe('permessage-deflate');
      } else {
        expect(offer).toBe('');
        expect(answer).toBe('');
      }
    },
  );

  test('a text message round-trips in one frame each way', async () => {
    const session = current();
    const text = Buffer.from('Hello from silverback: Grüße, ✓, 👋');
    await roundTrip(session.conn, TextMessage, text);
    const { sent, echoed } = lastExchange(session);
    expect([sent.opcode, sent.frames, echoed.opcode, echoed.frames]).toEqual([1, 1, 1, 1]);
  });

  test('a binary message round-trips in one frame each way', async () => {
    const session = current();
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    await roundTrip(session.conn, BinaryMessage, bytes);
    const { sent, echoed } = lastExchange(session);
    expect([sent.opcode, sent.frames, echoed.opcode, echoed.frames]).toEqual([2, 1, 2, 1]);
  });

  if (compress) {
    test('messages in a row decode with the context each side keeps, or resets, as negotiated', async () => {
      const session = current();
      const { ours, theirs } = directions(session);
      const text = Buffer.from(sampleText(2048, 3));
      for (let i = 0; i < 3; i++) await roundTrip(session.conn, TextMessage, text);
      const answer = session.wire.responseHeader('Sec-WebSocket-Extensions') ?? '';
      const resets = (sender: 'server' | 'client'): boolean =>
        answer.split(';').some((p) => p.trim() === `${sender}_no_context_takeover`);
      for (const [direction, sender] of [
        [ours, session.role],
        [theirs, session.role === 'server' ? 'client' : 'server'],
      ] as const) {
        const sizes = session.wire.messages(direction).map((m) => m.wireLength);
        expect(session.wire.messages(direction).every((m) => m.compressed)).toBe(true);
        if (resets(sender)) {
          // A fresh context compresses the same text to the same bytes every time.
          expect(new Set(sizes).size).toBe(1);
        } else {
          // A kept context finds the whole text in its window the second time.
          expect(sizes[1]!).toBeLessThan(sizes[0]! / 4);
          expect(sizes[2]!).toBeLessThan(sizes[0]! / 4);
        }
      }
    });
  }

  test(`a 1 MiB text message round-trips byte-exact${compress ? ', compressed both ways' : ''}`, async () => {
    const session = current();
    const text = Buffer.from(sampleText(MiB, 1));
    expect(text.length).toBe(MiB);
    await roundTrip(session.conn, TextMessage, text);
    const { sent, echoed } = lastExchange(session);
    expect([sent.opcode, echoed.opcode]).toEqual([1, 1]);
    expect([sent.compressed, echoed.compressed]).toEqual([compress, compress]);
    if (compress) {
      expect(sent.wireLength).toBeLessThan(MiB * 0.8);
      expect(echoed.wireLength).toBeLessThan(MiB * 0.8);
    } else {
      expect([sent.wireLength, echoed.wireLength]).toEqual([MiB, MiB]);
    }
  });

  test(`a 1 MiB binary message round-trips byte-exact${compress ? ', compressed both ways' : ''}`, async () => {
    const session = current();
    const bytes = randomBytes(MiB);
    await roundTrip(session.conn, BinaryMessage, bytes);
    const { sent, echoed } = lastExchange(session);
    expect([sent.opcode, echoed.opcode]).toEqual([2, 2]);
    expect([sent.compressed, echoed.compressed]).toEqual([compress, compress]);
  });

  test('fragmented text and binary messages round-trip, sent in several frames each way', async () => {
    const session = current();
    const { conn } = session;
    const text = Buffer.from(sampleText(FRAGMENTED_SIZE, 2));
    const bytes = randomBytes(FRAGMENTED_SIZE);
    for (const [type, data, pieces] of [
      [TextMessage, text, splitInsideCharacters(text, 4)],
      [
        BinaryMessage,
        bytes,
        [bytes.subarray(0, 1000), bytes.subarray(1000, 50_000), bytes.subarray(50_000)],
      ],
    ] as const) {
      const [, echo] = await Promise.all([writeInPieces(conn, type, pieces), conn.readMessage()]);
      expectEcho(echo, type, data);
      const { sent, echoed } = lastExchange(session);
      expect(sent).toMatchObject({ opcode: type, frames: pieces.length, compressed: compress });
      expect(echoed.opcode).toBe(type);
      expect(echoed.frames).toBeGreaterThan(1);
    }
  });

  test('pings are answered with pongs both ways', async () => {
    const session = current();
    const { conn, peer, peerConn } = session;
    const { ours, theirs } = directions(session);
    const pong = new Promise<string>((resolve) =>
      conn.setPongHandler((data) => resolve(data.toString())),
    );
    await conn.writeControl(PingMessage, 'ping from silverback');
    expect(await pong).toBe('ping from silverback');

    await conn.writeMessage(TextMessage, 'cmd:ping ping from the peer');
    expect(await peer.next('pong', peerConn)).toMatchObject({ data: 'ping from the peer' });

    expect(payloads(session, ours, PingMessage)).toEqual(['ping from silverback']);
    expect(payloads(session, theirs, PongMessage)).toEqual(['ping from silverback']);
    expect(payloads(session, theirs, PingMessage)).toEqual(['ping from the peer']);
    expect(payloads(session, ours, PongMessage)).toEqual(['ping from the peer']);
  });

  test('a close we start carries its code and reason, and the peer answers it', async () => {
    const session = current();
    const { conn, peer, peerConn, wire } = session;
    const { ours, theirs } = directions(session);
    const reading = conn.readMessage().then(
      () => new Error('a message arrived instead of the close frame'),
      (err: unknown) => err,
    );
    await conn.closeGracefully(4000, 'bye from silverback');
    expect(await peer.next('close', peerConn)).toMatchObject({
      code: 4000,
      reason: 'bye from silverback',
    });
    expect(wire.closes(ours)).toEqual([{ code: 4000, reason: 'bye from silverback' }]);
    const answers = wire.closes(theirs);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.code).toBe(4000);
    const err = await reading;
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 4000, text: answers[0]!.reason });
    await wire.closed;
  });

  test('a close the peer starts carries its code and reason here, and we answer it', async () => {
    const session = current();
    const { conn, peer, peerConn, wire } = session;
    const { ours, theirs } = directions(session);
    const reading = conn.readMessage().then(
      () => new Error('a message arrived instead of the close frame'),
      (err: unknown) => err,
    );
    await conn.writeMessage(TextMessage, 'cmd:close 4001 bye from the peer');
    const err = await reading;
    expect(err).toBeInstanceOf(CloseError);
    expect(err).toMatchObject({ code: 4001, text: 'bye from the peer' });
    // gorilla's default close handler: the same code back, no reason.
    expect(await peer.next('close', peerConn)).toMatchObject({ code: 4001, reason: '' });
    expect(wire.closes(theirs)).toEqual([{ code: 4001, reason: 'bye from the peer' }]);
    expect(wire.closes(ours)).toEqual([{ code: 4001, reason: '' }]);
    await Promise.all([wire.closed, conn.closed]);
  });
}
