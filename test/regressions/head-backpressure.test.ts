/**
 * Regression: bytes handed to a new connection as `head` (read past the handshake) that already
 * exceeded the read buffer made the connection pause its socket, and the constructor then
 * resumed it, because it resumed any paused socket so that a stream paused before the upgrade
 * would flow. The connection then believed the socket paused while it was flowing, so unread
 * data piled up without bound until the next read. The constructor now resumes only a socket
 * that the connection itself did not pause.
 */
import { BinaryMessage, Conn } from '@silverback/websocket';
import { duplexPair, memoryConn } from '../helpers/duplex-pair';
import { frame } from '../helpers/frames';

test.each([
  ['server', true],
  ['client', false],
])(
  'as the %s, head over the read buffer leaves the socket paused until a read',
  async (_r, isServer) => {
    const payload = Buffer.alloc(10_000, 7);
    const head = frame({ opcode: BinaryMessage, payload, mask: isServer });
    const { conn, socket } = memoryConn({ isServer, readBufferSize: 1024, head });
    expect(socket.isPaused()).toBe(true);
    const message = await conn.readMessage();
    expect(message.data.equals(payload)).toBe(true);
    expect(socket.isPaused()).toBe(false);
    conn.close();
  },
);

test('a socket paused before the upgrade, with a small head, flows', async () => {
  const [socket, peerSocket] = duplexPair();
  socket.pause();
  const head = frame({ opcode: BinaryMessage, payload: 'hi', mask: true });
  const conn = new Conn(socket, { isServer: true, readBufferSize: 1024, head });
  expect(socket.isPaused()).toBe(false);
  peerSocket.write(frame({ opcode: BinaryMessage, payload: 'there', mask: true }));
  await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('hi') });
  await expect(conn.readMessage()).resolves.toMatchObject({ data: Buffer.from('there') });
  conn.close();
});
