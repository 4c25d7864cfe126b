/**
 * The in-memory socket pair behind `inject` (`memory-socket.ts`): copied chunks, FIN on end, and
 * backpressure as on TCP.
 */
import { once } from 'node:events';
import { memorySocketPair } from '@silverback/websocket/adapter';

describe('memorySocketPair', () => {
  test('copies chunks, so the writer may reuse its buffer and the reader may change its copy', async () => {
    const [a, b] = memorySocketPair();
    const buffer = Buffer.from('abcd');
    const received = once(b, 'data') as Promise<[Buffer]>;
    await new Promise<void>((resolve) => a.write(buffer, () => resolve()));
    const [chunk] = await received;
    chunk[0] = 0x41; // the reader unmasks in place
    expect(buffer.toString()).toBe('abcd');
    buffer.fill(0x78); // the writer reuses its pooled buffer
    expect(chunk.toString()).toBe('Abcd');
    const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
    a.resume();
    a.end();
    b.end();
    await closed;
  });

  test('end is a FIN, and a full reader holds back the writer', async () => {
    const [a, b] = memorySocketPair();
    b.pause();
    let writes = 0;
    while (a.write(Buffer.alloc(4096))) writes++;
    expect(writes).toBeLessThan(64); // the writer saw backpressure
    const drained = once(a, 'drain');
    b.resume();
    await drained;
    a.end();
    await once(b, 'end');
    a.resume();
    const aEnded = once(a, 'end');
    const aClosed = once(a, 'close');
    b.destroy(); // the other end reads it as a FIN
    await Promise.all([aEnded, aClosed]);
  });
});
