import { BinaryMessage, PingMessage, PreparedMessage, TextMessage } from '@silverback/websocket';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';

const setup = useMemoryConns();

describe('PreparedMessage', () => {
  test('copies its data: later changes to the source do not reach the wire', async () => {
    const source = Buffer.from('original');
    const message = new PreparedMessage(BinaryMessage, source);
    source.fill(0);
    expect(message.data.toString()).toBe('original');
    const { conn, peer } = setup();
    await conn.writePreparedMessage(message);
    await expect(peer.nextFrame()).resolves.toMatchObject({ payload: Buffer.from('original') });
  });

  test('a string is encoded as UTF-8', () => {
    expect(new PreparedMessage(TextMessage, 'κόσμε').data).toEqual(Buffer.from('κόσμε'));
  });

  test('refuses unknown types and control payloads over 125 bytes', () => {
    expect(() => new PreparedMessage(3 as typeof TextMessage, 'x')).toThrow(RangeError);
    expect(() => new PreparedMessage(PingMessage, Buffer.alloc(126))).toThrow(RangeError);
    expect(() => new PreparedMessage(PingMessage, Buffer.alloc(125))).not.toThrow();
  });

  test('sent to several connections: each gets the same message', async () => {
    const message = new PreparedMessage(TextMessage, 'broadcast');
    const servers = [setup(), setup(), setup()];
    const client = setup({ isServer: false });
    await Promise.all([...servers, client].map(({ conn }) => conn.writePreparedMessage(message)));
    for (const { peer } of servers) {
      await expect(peer.nextFrame()).resolves.toMatchObject({
        fin: true,
        opcode: TextMessage,
        masked: false,
        payload: Buffer.from('broadcast'),
      });
    }
    // A client masks the frame, with its own key.
    await expect(client.peer.nextFrame()).resolves.toMatchObject({
      masked: true,
      payload: Buffer.from('broadcast'),
    });
  });

  test('sent again and again, large or small, in order with other writes', async () => {
    const { conn, peer } = setup();
    const small = new PreparedMessage(TextMessage, 'small');
    const large = new PreparedMessage(BinaryMessage, Buffer.alloc(200_000, 6));
    await Promise.all([
      conn.writePreparedMessage(large),
      conn.writeMessage(TextMessage, 'between'),
      conn.writePreparedMessage(small),
      conn.writePreparedMessage(large),
    ]);
    const sizes: (number | string)[] = [];
    for (let i = 0; i < 4; i++) {
      const frame = (await peer.nextFrame())!;
      sizes.push(frame.opcode === BinaryMessage ? frame.payload.length : frame.payload.toString());
      if (frame.opcode === BinaryMessage) {
        expect(frame.payload.equals(large.data)).toBe(true);
      }
    }
    expect(sizes).toEqual([200_000, 'between', 'small', 200_000]);
  });

  test('a prepared control message is sent as a control frame', async () => {
    const { conn, peer } = setup();
    await conn.writePreparedMessage(new PreparedMessage(PingMessage, 'hb'));
    await expect(peer.nextFrame()).resolves.toMatchObject({
      opcode: PingMessage,
      payload: Buffer.from('hb'),
    });
  });
});
