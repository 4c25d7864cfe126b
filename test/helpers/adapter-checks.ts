/**
 * Checks the adapters' tests make alike, whatever the framework in front: what an injected chat
 * connection does, how an injected upgrade is refused, and how compression is negotiated per
 * route.
 */
import { HandshakeError, TextMessage, type Conn } from '@silverback/websocket';
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
