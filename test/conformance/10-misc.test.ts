/**
 * Autobahn section 10, miscellaneous: a message auto-fragmented by its sender (case 10.1.1), and
 * what the RFC implies for a server with many peers: a connection that fails never disturbs
 * another open at the same time, and no malformed input leaves a socket open forever, even when
 * the peer never answers the close frame nor ends its side of TCP.
 */
import { once } from 'node:events';
import { rawConnect } from '../helpers/raw-client';
import { startEchoServer } from '../../examples/autobahn/src/server';
import {
  asciiPayload,
  binary,
  binaryPayload,
  close,
  continuation,
  ECHO_PATHS,
  END_BOUND_MS,
  fragmented,
  OP,
  ping,
  rawFrame,
  text,
  useEchoServer,
  within,
} from './harness';

const fixture = useEchoServer();

describe.each(ECHO_PATHS)('%s', (_name, path) => {
  // Case 10.1.1.
  test.each([
    ['text', OP.text],
    ['binary', OP.binary],
  ] as const)(
    'a 65536-byte %s message in 1300-byte fragments is echoed whole',
    async (kind, opcode) => {
      const peer = await fixture.connect(path);
      const data = kind === 'text' ? asciiPayload(65536) : binaryPayload(65536);
      peer.send(...fragmented(opcode, data, 1300));
      await peer.expectMessage(kind, data);
      await peer.closeNormally();
    },
  );
});

/** Malformed inputs, each with the close code it must get. */
const MALFORMED: [string, Buffer[], number][] = [
  ['an unmasked frame', [text('x', { mask: false })], 1002],
  ['a reserved bit', [text('x', { rsv2: true })], 1002],
  ['a reserved opcode', [rawFrame(11)], 1002],
  ['a continuation without a message', [continuation('x')], 1002],
  ['a new message inside a fragmented one', [text('a', { fin: false }), text('b')], 1002],
  ['a fragmented ping', [ping('p', { fin: false })], 1002],
  ['a 126-byte ping', [ping(Buffer.alloc(126))], 1002],
  [
    'a 64-bit length with the high bit set',
    [Buffer.from('82ff8000000000000000373a213d', 'hex')],
    1002,
  ],
  ['a one-byte close payload', [rawFrame(8, Buffer.from([3]))], 1002],
  ['an invalid close code', [close(1005)], 1002],
  ['invalid UTF-8 in a close reason', [close(1000, Buffer.from([0xff]))], 1007],
  ['invalid UTF-8 in a text message', [text(Buffer.from([0xc0, 0xaf]))], 1007],
  ['a frame beyond the read limit', [Buffer.from('82ff0000000004000001373a213d', 'hex')], 1009],
  [
    'a 64-bit length past 2^53 (valid, but too big for any limit)',
    [Buffer.from('82ff1000000000000000373a213d', 'hex')],
    1009,
  ],
];

describe('no malformed input leaves the socket open', () => {
  test.each(MALFORMED)(
    '%s: the close code, then the server closes TCP although the client never ends its side',
    async (_name, frames, code) => {
      const peer = await fixture.connect();
      peer.raw.socket.allowHalfOpen = true; // the client will never send its FIN
      peer.send(...frames);
      await peer.expectClose(code); // includes the server's socket closing within the bound
      expect(peer.raw.socket.writableEnded).toBe(false);
    },
  );

  test('a client that reads nothing after its bad frame still loses the connection', async () => {
    const peer = await fixture.connect();
    peer.raw.socket.allowHalfOpen = true;
    peer.raw.socket.pause(); // nothing is read: the close frame and the FIN wait in the kernel
    peer.send(rawFrame(3), text('ignored'));
    await peer.expectSocketClosed();
  });
});

describe('connections are independent', () => {
  test('a connection failing mid-way does not disturb one in the middle of a message', async () => {
    const good = await fixture.connect();
    const bad = await fixture.connect();
    good.send(text('first half, ', { fin: false }));
    await good.expectOpen();
    bad.send(text('broken', { rsv1: true }));
    await bad.expectClose(1002);
    good.send(continuation('second half'));
    await good.expectMessage('text', 'first half, second half');
    await good.closeNormally();
  });

  test('a streaming echo failing mid-message does not disturb a whole-message echo', async () => {
    const good = await fixture.connect('/');
    const bad = await fixture.connect('/stream');
    bad.send(binary(binaryPayload(1000), { fin: false }));
    good.send(binary(binaryPayload(1000), { fin: false }));
    await good.expectOpen();
    bad.send(continuation('ab', { fin: false }), rawFrame(4));
    await bad.expectClose(1002);
    good.send(continuation(binaryPayload(500, 9)));
    await good.expectMessage('binary', Buffer.concat([binaryPayload(1000), binaryPayload(500, 9)]));
    await good.closeNormally();
  });

  test('forty connections at once, half of them failing in every way, the rest echoing', async () => {
    const peers = await Promise.all(Array.from({ length: 40 }, () => fixture.connect()));
    await Promise.all(
      peers.map(async (peer, i) => {
        if (i % 2 === 1) {
          const [, frames, code] = MALFORMED[(i >> 1) % MALFORMED.length]!;
          peer.send(...frames);
          await peer.expectClose(code);
          return;
        }
        const data = binaryPayload(10_000 + i, i);
        peer.send(ping(`ping ${i}`), ...fragmented(OP.binary, data, 999));
        await peer.expectPong(`ping ${i}`);
        await peer.expectMessage('binary', data);
        await peer.closeNormally();
      }),
    );
  });
});

describe('the echo server', () => {
  test('close() sends 1001 (Going Away) to open connections and ends them', async () => {
    const echo = await startEchoServer({ port: 0 });
    const client = await rawConnect(echo.port);
    try {
      const closed = echo.close();
      const raw = await within(client.nextFrame(), END_BOUND_MS, 'close frame');
      expect(raw).toMatchObject({ opcode: OP.close, fin: true, masked: false });
      expect(raw!.payload.readUInt16BE(0)).toBe(1001);
      client.send(close(1001));
      await within(client.ended, END_BOUND_MS, 'end of TCP');
      await within(closed, END_BOUND_MS, 'server close');
      expect(echo.connections.size).toBe(0);
    } finally {
      client.destroy();
      await echo.close(0);
    }
  });

  test('a plain HTTP request gets 426 Upgrade Required', async () => {
    const echo = await startEchoServer({ port: 0 });
    try {
      const response = await fetch(`http://127.0.0.1:${echo.port}/`);
      expect(response.status).toBe(426);
      expect(response.headers.get('upgrade')).toBe('websocket');
      await response.text();
    } finally {
      await echo.close(0);
    }
  });

  test('listening on a port in use rejects with EADDRINUSE', async () => {
    const echo = await startEchoServer({ port: 0 });
    try {
      await expect(startEchoServer({ port: echo.port })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      await echo.close(0);
    }
  });

  test('a failed handshake gets its HTTP error and leaves no connection behind', async () => {
    const echo = await startEchoServer({ port: 0 });
    try {
      const { connect } = await import('node:net');
      const socket = connect(echo.port, '127.0.0.1');
      socket.end(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      await within(once(socket, 'close'), END_BOUND_MS, 'close of the refused socket');
      expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
      expect(echo.connections.size).toBe(0);
    } finally {
      await echo.close(0);
    }
  });
});
