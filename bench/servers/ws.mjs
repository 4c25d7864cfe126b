// The `ws` echo server, as its README writes one. Started with WS_NO_BUFFER_UTIL=1 and
// WS_NO_UTF_8_VALIDATE=1 it is plain JavaScript `ws`; without them it loads the native addons
// `bufferutil` and `utf-8-validate`. It reports which, so the parent can check the variant it asked
// for is the one it measures.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { serve } from './harness.mjs';
import { compressionSettings } from './settings.mjs';
import { floodRequest, reportFlood } from './write-flood.mjs';

const deflate = compressionSettings();
const server = createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({
  server,
  perMessageDeflate:
    deflate === null
      ? false
      : { zlibDeflateOptions: { level: deflate.level }, threshold: deflate.threshold },
});
wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  const flood = floodRequest(req.url);
  if (flood !== null) {
    for (let i = 0; i < flood.count; i++) ws.send(flood.message);
    reportFlood(ws.bufferedAmount);
    return;
  }
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});

// ws loads the addons with `require` when it is first imported, so they show in the CJS cache.
const loaded = Object.keys(createRequire(import.meta.url).cache);
serve(server, {
  compression: deflate !== null,
  bufferutil: loaded.some((path) => path.includes('/node_modules/bufferutil/')),
  utf8Validate: loaded.some((path) => path.includes('/node_modules/utf-8-validate/')),
});
