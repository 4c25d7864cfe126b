/**
 * Checks the adapters' tests make alike, whatever the framework in front: the 426 answer, what an
 * injected chat connection does, how an injected upgrade is refused, and how compression is
 * negotiated per route.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  BinaryMessage,
  HandshakeError,
  TextMessage,
  Upgrader,
  type Conn,
} from '@silverback/websocket';
import { connectWs, nextMessage, type WsClients } from './ws-client';

/**
 * Expects the chat route of the inject tests on `conn`: the `chat` subprotocol chosen, a welcome
 * to `room`, then an echo; and closes the connection gracefully.
 */
export async function expectWelcomeAndEcho(conn: Conn, room: string): Promise<void> {
  expect(conn.subprotocol()).toBe('chat');
  expect((await conn.readMessage()).data.toString()).toBe(`welcome to ${room}`);
  await conn.writeMessage(TextMessage, 'ping');
  expect((await conn.readMessage()).data.toString()).toBe('ping');
  await conn.closeGracefully();
}

/**
 * Expects an HTTP answer (a supertest response) to be the 426 Upgrade Required a websocket route
 * gives to plain HTTP, or a plain route gives to an upgrade request (RFC 7231 section 6.5.15).
 */
export function expectUpgradeRequired(res: {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}): void {
  expect(res.status).toBe(426);
  expect(res.headers.upgrade).toBe('websocket');
  expect(res.text).toBe('Upgrade Required\n');
}

/** Resolves with the `HandshakeError` that `promise` rejects with, failing on anything else. */
export async function handshakeRefusal(promise: Promise<unknown>): Promise<HandshakeError> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

/**
 * Expects the `/deflate` route on 127.0.0.1:`port` to negotiate permessage-deflate with a `ws`
 * client offering it, and to echo `message` through it; and the `/plain` route not to.
 */
export async function expectCompressionPerRoute(
  open: WsClients['open'],
  port: number,
  message: string,
): Promise<void> {
  const deflate = await open(port, '/deflate', { perMessageDeflate: true });
  expect(deflate.extensions).toContain('permessage-deflate');
  deflate.send(message);
  expect(await nextMessage(deflate)).toBe(message);
  const plain = await open(port, '/plain', { perMessageDeflate: true });
  expect(plain.extensions).toBe('');
}

/**
 * Gives `server` the `'upgrade'` listener of another library (a dev server's hot reload, say)
 * for `/hmr`, which greets with `reload` and closes; then expects that listener and the adapter's
 * `/echo` route, on 127.0.0.1:`port`, to work side by side. The adapter must be told to leave
 * `/hmr` alone (its `shouldHandle`).
 */
export async function expectBesideAnotherUpgradeListener(
  server: Server,
  { client, open }: WsClients,
  port: number,
): Promise<void> {
  const other = new Upgrader();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== '/hmr') return;
    void other.upgrade(req, socket, head).then(async (conn) => {
      await conn.writeMessage(TextMessage, 'reload');
      await conn.closeGracefully();
    });
  });
  // Listening before the handshake ends: the greeting may come in the 101's own packet.
  const hmr = client(port, '/hmr');
  expect(await nextMessage(hmr)).toBe('reload');
  const ours = await open(port, '/echo');
  ours.send('mine');
  expect(await nextMessage(ours)).toBe('mine');
}

/**
 * A websocket handler that probes the connection's `maxBufferedAmount`: it writes 16 MiB (more
 * than a kernel takes in one write, so most of it stays buffered) and, in the same tick, a small
 * message; then it reports what became of the small one: `'sent'`, or the refusal's `code`.
 */
export async function bufferLimitProbe(conn: Conn): Promise<void> {
  const large = conn.writeMessage(BinaryMessage, Buffer.alloc(16 << 20));
  const small = conn.writeMessage(TextMessage, 'small').then(
    () => 'sent',
    (err: unknown) => (err as { code?: string }).code ?? String(err),
  );
  await large;
  await conn.writeMessage(TextMessage, await small);
}

/**
 * Expects {@link bufferLimitProbe} on 127.0.0.1:`port` to be refused with `ERR_WS_BUFFER_FULL` on
 * `/capped` (a cap of 64 KiB, global or per route) and to go through on `/uncapped` (a larger
 * cap given to that route).
 */
export async function expectBufferLimitPerRoute(port: number): Promise<void> {
  const capped = await connectWs(`ws://127.0.0.1:${port}/capped`);
  const [large, verdict] = await capped.take(2);
  expect((large as Buffer).length).toBe(16 << 20);
  expect(verdict).toBe('ERR_WS_BUFFER_FULL');
  capped.ws.terminate();
  const uncapped = await connectWs(`ws://127.0.0.1:${port}/uncapped`);
  expect((await uncapped.take(3)).slice(1)).toEqual(['small', 'sent']);
  uncapped.ws.terminate();
}
