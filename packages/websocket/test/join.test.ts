import { once } from 'node:events';
import { joinMessages } from '@silverback/websocket';
import { useMemoryConns } from '../../../test/helpers/duplex-pair';
import { closePayload, frame } from '../../../test/helpers/frames';

const setup = useMemoryConns();

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

const text = (payload: string, fin = true): Buffer => frame({ opcode: 1, payload, fin });
const close = (code: number): Buffer => frame({ opcode: 8, payload: closePayload(code) });

describe('joinMessages', () => {
  test('each message followed by the terminator; ends on a normal close', async () => {
    const { conn, peer } = setup();
    peer.send([text('one'), frame({ opcode: 2, payload: 'two' }), text(''), close(1000)]);
    await expect(collect(joinMessages(conn, '\n'))).resolves.toBe('one\ntwo\n\n');
  });

  test.each([1001, 1005])('ends quietly on %i', async (code) => {
    const { conn, peer } = setup();
    peer.send([text('a'), code === 1005 ? frame({ opcode: 8 }) : close(code)]);
    await expect(collect(joinMessages(conn, Buffer.from([0])))).resolves.toBe('a\0');
  });

  test('without a terminator the messages run together', async () => {
    const { conn, peer } = setup();
    peer.send([text('ab'), text('cd'), close(1000)]);
    await expect(collect(joinMessages(conn))).resolves.toBe('abcd');
  });

  test('streams a fragmented message frame by frame', async () => {
    const { conn, peer } = setup();
    const stream = joinMessages(conn, '|');
    peer.send(text('start ', false));
    await once(stream, 'readable');
    expect((stream.read() as Buffer).toString()).toBe('start ');
    peer.send([frame({ opcode: 0, payload: 'end' }), close(1000)]);
    await expect(collect(stream)).resolves.toBe('end|');
  });

  test('fails with any other close or error', async () => {
    const { conn, peer } = setup();
    peer.send([text('a'), close(4000)]);
    await expect(collect(joinMessages(conn, '\n'))).rejects.toMatchObject({ code: 4000 });
    const second = setup();
    second.peer.send(frame({ opcode: 1, payload: Buffer.from([0xc0]) }));
    await expect(collect(joinMessages(second.conn))).rejects.toMatchObject({ closeCode: 1007 });
  });
});
