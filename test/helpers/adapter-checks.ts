/**
 * Checks the adapters' tests make alike, whatever the framework in front: the 426 answer, what an
 * injected chat connection does, how an injected upgrade is refused, and how compression is
 * negotiated per route.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { HandshakeError, TextMessage, Upgrader, type Conn } from '@silverback/websocket';
import { nextMessage, type WsClients } from './ws-client';

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
