/**
 * Regression: a `writePreparedMessage` larger than the socket's high-water mark never resolved.
 *
 * The chat example broadcasts through prepared messages, and its write loop stalled after the
 * first 20 KB message. A server's prepared frame goes to the socket as one chunk; Node's
 * `net.Socket` hands a chunk the kernel accepts whole to it synchronously and returns `true`
 * without setting `needDrain`, so no 'drain' event ever follows. `FrameWriter.drained()` flushed,
 * then waited for that event. It now waits only if the socket still holds more than its
 * high-water mark after the flush.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { BinaryMessage, PreparedMessage } from '@silverback/websocket';
import { FrameWriter } from '@silverback/websocket/frame-writer';
import { startServer, type TestServer } from '../helpers/server';
import { connectWs, type WsClient } from '../helpers/ws-client';

let server: TestServer | undefined;
let client: WsClient | undefined;

afterEach(async () => {
  client?.ws.terminate();
  client = undefined;
  await server?.close();
  server = undefined;
});

test('a prepared message larger than the high-water mark resolves once the socket takes it', async () => {
  server = await startServer();
  client = await connectWs(server.url);
  const conn = await server.nextConn();
  for (let i = 0; i < 3; i++) {
    const data = Buffer.alloc(20_000, i);
    const written = conn.writePreparedMessage(new PreparedMessage(BinaryMessage, data));
    expect(await client.next()).toEqual(data);
    await expect(written).resolves.toBeUndefined();
  }
}, 5000);

test('FrameWriter.drained() resolves after one raw frame the kernel accepted whole', async () => {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const peer = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = (await once(listener, 'connection')) as [Socket];
  const received = new Promise<number>((resolve) => {
    let total = 0;
    peer.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total === 20_004) resolve(total);
    });
  });
  try {
    const writer = new FrameWriter(socket, false, 4096, undefined);
    const frame = Buffer.concat([Buffer.from([0x82, 126, 0x4e, 0x20]), Buffer.alloc(20_000)]);
    writer.writeRaw(frame);
    expect(writer.backedUp).toBe(true);
    await writer.drained();
    expect(await received).toBe(20_004);
  } finally {
    peer.destroy();
    socket.destroy();
    await new Promise((resolve) => listener.close(resolve));
  }
}, 5000);
