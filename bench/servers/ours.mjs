// silverback's echo server, built from packages/websocket/dist: gorilla's echo loop (read a
// message, write it back, wait for the write) over an `Upgrader`.
import { createServer } from 'node:http';
import { Upgrader } from '@silverback/websocket';
import { serve } from './harness.mjs';
import { compressionSettings } from './settings.mjs';

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
  upgrader.upgrade(req, socket, head).then(echo, () => {});
});

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
