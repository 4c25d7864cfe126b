// An echo peer built on the `ws` npm package for silverback's interop tests.
//
//   node ws-peer.mjs server [--compress]       listen on 127.0.0.1, on a port the OS picks
//   node ws-peer.mjs client URL [--compress]   connect to URL
//
// Either way the peer echoes every data message back with its type. Messages of 64 KiB or more
// go back as several frames (send() with `fin: false` for all but the last 16 KiB chunk), so the
// other side reads fragmented messages. Text messages that start with "cmd:" are commands instead:
//
//   cmd:ping <data>            send a ping carrying <data>; report the pong
//   cmd:close <code> <reason>  start the closing handshake with that code and reason
//
// The peer reports on stdout, one JSON object per line, with the connection's number in "conn":
// listening {port}, open {extensions} (the negotiated Sec-WebSocket-Extensions value), pong {data},
// close {code, reason} (the close frame the other side sent), error {message}. The client exits
// once its connection has closed; the server runs until it is killed.
import { WebSocket, WebSocketServer } from 'ws';

const FRAGMENT_THRESHOLD = 64 * 1024;
const CHUNK = 16 * 1024;

let connNumbers = 0;

function report(event, conn, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...(conn ? { conn } : {}), ...fields }) + '\n');
}

function extensionsOf(headers) {
  const value = headers['sec-websocket-extensions'];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function echo(ws, extensions) {
  const conn = ++connNumbers;
  report('open', conn, { extensions });
  ws.on('pong', (data) => report('pong', conn, { data: data.toString() }));
  ws.on('close', (code, reason) => report('close', conn, { code, reason: reason.toString() }));
  ws.on('error', (err) => report('error', conn, { message: err.message }));
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.subarray(0, 4).toString() === 'cmd:') {
      command(ws, conn, data.subarray(4).toString());
    } else if (data.length >= FRAGMENT_THRESHOLD) {
      for (let i = 0; i < data.length; i += CHUNK) {
        ws.send(data.subarray(i, i + CHUNK), { binary: isBinary, fin: i + CHUNK >= data.length });
      }
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
}

function command(ws, conn, text) {
  const [name, ...rest] = text.split(' ');
  if (name === 'ping') {
    ws.ping(rest.join(' '));
  } else if (name === 'close') {
    ws.close(Number(rest[0]), rest.slice(1).join(' '));
  } else {
    report('error', conn, { message: `unknown command ${name}` });
  }
}

const [mode, ...args] = process.argv.slice(2);
const compress = args.includes('--compress');
const url = args.find((arg) => !arg.startsWith('--'));

if (mode === 'server') {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: compress });
  // The answer's headers, as sent: ws keeps only the extension names on the connection.
  const answers = new WeakMap();
  server.on('headers', (headers, req) => {
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    answers.set(req, line === undefined ? '' : line.slice(line.indexOf(':') + 1).trim());
  });
  server.on('connection', (ws, req) => echo(ws, answers.get(req) ?? ''));
  server.on('listening', () => report('listening', 0, { port: server.address().port }));
  server.on('error', (err) => {
    report('error', 0, { message: err.message });
    process.exit(1);
  });
} else if (mode === 'client' && url !== undefined) {
  const ws = new WebSocket(url, { perMessageDeflate: compress });
  let extensions = '';
  ws.on('upgrade', (res) => (extensions = extensionsOf(res.headers)));
  ws.on('open', () => echo(ws, extensions));
  ws.on('error', (err) => {
    report('error', 0, { message: err.message });
    process.exitCode = 1;
  });
} else {
  report('error', 0, { message: 'usage: ws-peer.mjs server|client [URL] [--compress]' });
  process.exit(1);
}
