// silverback's echo server, built from packages/websocket/dist: gorilla's echo loop (read a
// message, write it back, wait for the write) over an `Upgrader`.
import { createServer } from 'node:http';
import process from 'node:process';
import { TextMessage, Upgrader } from '@silverback/websocket';
import { serve } from './harness.mjs';
import { compressionSettings } from './settings.mjs';
import { floodRequest, reportFlood } from './write-flood.mjs';

const deflate = compressionSettings();
const upgrader = new Upgrader({
  checkOrigin: () => true,
  enableCompression:
    deflate === null ? false : { level: deflate.level, threshold: deflate.threshold },
});

const server = createServer((_req, res) => {
  res.writeHead(404).end();
});
server.on('upgrade', (req, socket, head) => {
  const flood = floodRequest(req.url);
  upgrader
    .upgrade(req, socket, head)
    .then(flood === null ? echo : (conn) => writeFlood(conn, flood), () => {});
});

// An application that does not await its writes, to a peer that never reads. Their rejections
// once the peer goes away are expected.
process.on('unhandledRejection', () => {});

/**
 * @param {import('@silverback/websocket').Conn} conn
 * @param {{ count: number, message: string }} flood
 */
function writeFlood(conn, { count, message }) {
  for (let i = 0; i < count; i++) void conn.writeMessage(TextMessage, message);
  reportFlood(conn.bufferedAmount);
}

/** @param {import('@silverback/websocket').Conn} conn */
async function echo(conn) {
  try {
    for await (const { type, data } of conn) await conn.writeMessage(type, data);
  } catch {
    // The load generator drops its connections without a closing handshake when a run ends.
  } finally {
    conn.close();
  }
}

serve(server, { compression: deflate !== null });
