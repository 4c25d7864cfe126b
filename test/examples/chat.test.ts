/**
 * The chat example's server and hub, driven by Node clients: broadcast, limits, keepalive, slow
 * clients and shutdown. The page itself is tested in test/browser/chat.test.ts.
 */
import { once } from 'node:events';
import { Conn, PreparedMessage } from '@silverback/websocket';
import { Hub, startChat, type ChatServer, type LeaveReason } from '../../examples/chat/src/index';
import { frame } from '../helpers/frames';
import { rawConnect, type RawClient } from '../helpers/raw-client';
import { connectWs, type WsClient } from '../helpers/ws-client';

let chat: ChatServer | undefined;
const clients: WsClient[] = [];
const raws: RawClient[] = [];

afterEach(async () => {
  jest.restoreAllMocks();
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const raw of raws.splice(0)) raw.destroy();
  await chat?.close();
  chat = undefined;
});

function wsUrl(server: ChatServer): string {
  return `ws://127.0.0.1:${server.port}/ws`;
}

async function join(server: ChatServer): Promise<WsClient> {
  const registered = once(server.hub, 'register');
  const client = await connectWs(wsUrl(server));
  clients.push(client);
  await registered;
  return client;
}

/** Resolves with the reason the next client to leave gave. */
function nextLeave(hub: Hub): Promise<LeaveReason> {
  return new Promise((resolve) => hub.once('unregister', (_client, reason) => resolve(reason)));
}

describe('chat server', () => {
  test('serves the page at / and refuses other paths and methods', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const page = await fetch(chat.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain("location.host + '/ws'");
    expect((await fetch(new URL('/nope', chat.url))).status).toBe(404);
    expect((await fetch(chat.url, { method: 'POST' })).status).toBe(405);
  });

  test('refuses a cross-origin upgrade with 403 and an upgrade to another path with 404', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    await expect(connectWs(wsUrl(chat), { origin: 'http://evil.example' })).rejects.toThrow(
      'handshake refused with 403',
    );
    await expect(connectWs(`ws://127.0.0.1:${chat.port}/other`)).rejects.toThrow(
      'handshake refused with 404',
    );
    expect(chat.hub.clients.size).toBe(0);
  });

  test('broadcasts each message to every client, one line per message', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const alice = await join(chat);
    const bob = await join(chat);
    alice.ws.send('hello\nfrom alice  ');
    expect(await alice.next()).toBe('hello from alice');
    expect(await bob.next()).toBe('hello from alice');
    bob.ws.send('hi alice');
    expect(await alice.next()).toBe('hi alice');
    expect(await bob.next()).toBe('hi alice');
  });

  test('encodes a broadcast once and sends the same PreparedMessage to every client', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const a = await join(chat);
    const b = await join(chat);
    const c = await join(chat);
    const sent = jest.spyOn(Conn.prototype, 'writePreparedMessage');
    chat.hub.broadcast('once');
    expect(await Promise.all([a.next(), b.next(), c.next()])).toEqual(['once', 'once', 'once']);
    expect(sent).toHaveBeenCalledTimes(3);
    const messages = new Set(sent.mock.calls.map(([message]) => message));
    expect(messages.size).toBe(1);
    expect([...messages][0]).toBeInstanceOf(PreparedMessage);
  });

  test('sends binary messages on as valid text and skips blank ones', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const alice = await join(chat);
    alice.ws.send('   \n ');
    alice.ws.send(Buffer.from([0x68, 0x69, 0xff]));
    expect(await alice.next()).toBe('hi\ufffd');
  });

  test('closes a client that sends more than maxMessageSize with 1009; others carry on', async () => {
    chat = await startChat({ host: '127.0.0.1', hub: { maxMessageSize: 64 } });
    const alice = await join(chat);
    const bob = await join(chat);
    const left = nextLeave(chat.hub);
    bob.ws.send('x'.repeat(65));
    expect((await bob.closed).code).toBe(1009);
    expect(await left).toBe('error');
    alice.ws.send('x'.repeat(64));
    expect(await alice.next()).toBe('x'.repeat(64));
    expect(chat.hub.clients.size).toBe(1);
  });

  test('pings every pingPeriod, and a client that answers stays', async () => {
    chat = await startChat({ host: '127.0.0.1', hub: { pongWait: 200, pingPeriod: 50 } });
    const alice = await join(chat);
    // Six pings span 300 ms, past pongWait: only the pongs kept the read deadline moving.
    await alice.pings(6);
    expect(alice.open).toBe(true);
    alice.ws.send('still here');
    expect(await alice.next()).toBe('still here');
  });

  test('closes a client that stops answering pings once pongWait passes', async () => {
    chat = await startChat({ host: '127.0.0.1', hub: { pongWait: 200, pingPeriod: 50 } });
    const registered = once(chat.hub, 'register');
    const raw = await rawConnect(chat.port, '/ws');
    raws.push(raw);
    await registered;
    const left = nextLeave(chat.hub);
    // The raw client reads the pings but never answers them.
    const first = await raw.nextFrame();
    expect(first?.opcode).toBe(9);
    expect(await left).toBe('error');
    await raw.ended;
    expect(chat.hub.clients.size).toBe(0);
  });

  test('drops a client too slow to keep up, without holding the others back', async () => {
    chat = await startChat({ host: '127.0.0.1', hub: { sendQueueSize: 4 } });
    const fast = await join(chat);
    const registered = once(chat.hub, 'register');
    const slow = await rawConnect(chat.port, '/ws');
    raws.push(slow);
    await registered;
    // The slow client stops reading: its socket buffers fill, then its send queue.
    slow.socket.pause();
    const left = nextLeave(chat.hub);
    let reason: LeaveReason | undefined;
    void left.then((r) => (reason = r));
    const big = 'm'.repeat(256 * 1024);
    let sent = 0;
    while (reason === undefined && sent < 1000) {
      const text = `${sent} ${big}`;
      chat.hub.broadcast(text);
      sent++;
      // The fast client keeps up with every message, in order.
      expect(await fast.next()).toBe(text);
    }
    expect(reason).toBe('slow');
    expect(chat.hub.clients.size).toBe(1);
    fast.ws.send('after');
    expect(await fast.next()).toBe('after');
  });

  test('a client leaving normally is unregistered with reason "closed"', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const alice = await join(chat);
    const left = nextLeave(chat.hub);
    alice.ws.close(1000);
    expect(await left).toBe('closed');
    expect((await alice.closed).code).toBe(1000);
  });

  test('a raw client that breaks the protocol is closed with 1002 and unregistered', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const registered = once(chat.hub, 'register');
    const raw = await rawConnect(chat.port, '/ws');
    raws.push(raw);
    await registered;
    const left = nextLeave(chat.hub);
    raw.send(frame({ opcode: 1, payload: 'unmasked', mask: false }));
    const close = await raw.nextFrame();
    expect(close?.opcode).toBe(8);
    expect(close?.payload.readUInt16BE(0)).toBe(1002);
    expect(await left).toBe('error');
  });

  test('close() sends 1001 Going Away to every client', async () => {
    chat = await startChat({ host: '127.0.0.1' });
    const alice = await join(chat);
    const bob = await join(chat);
    const closing = chat.close();
    chat = undefined;
    expect(await alice.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await bob.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    await closing;
  });
});

describe('Hub settings', () => {
  test("default to gorilla's constants", () => {
    expect(new Hub().settings).toEqual({
      writeWait: 10_000,
      pongWait: 60_000,
      pingPeriod: 54_000,
      maxMessageSize: 512,
      sendQueueSize: 256,
    });
  });

  test('derive pingPeriod from pongWait and refuse a pingPeriod that is not shorter', () => {
    expect(new Hub({ pongWait: 1000 }).settings.pingPeriod).toBe(900);
    expect(() => new Hub({ pongWait: 100, pingPeriod: 100 })).toThrow(RangeError);
    expect(() => new Hub({ sendQueueSize: 0 })).toThrow(RangeError);
  });
});
