// The load generator's opening handshake over a plain TCP socket (no WebSocket library on the
// client side), checked as RFC 6455 section 4.1 tells a client to check the server's answer.
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const END_OF_HEADERS = Buffer.from('\r\n\r\n');

/**
 * Connects to `ws://127.0.0.1:<port><path>` and performs the opening handshake.
 *
 * @param {number} port
 * @param {object} options
 * @param {boolean} options.deflate - offer permessage-deflate and require the server to accept it.
 * @param {string} [options.path] - the request target (default `/`).
 * @returns {Promise<{ socket: import('node:net').Socket, rest: Buffer, extensions: string }>}
 *   the socket, paused with no `'data'` listener; any frame bytes that came with the answer; the
 *   negotiated extensions.
 * @throws {Error} when the server refuses, answers wrongly, or declines a required extension.
 */
export async function handshake(port, { deflate, path = '/' }) {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  // Once the run is under way, a reset is how a connection ends; the counts tell the rest.
  socket.on('error', () => {});
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '') +
      '\r\n',
  );
  const { head, rest } = await readHead(socket);
  const [statusLine, ...lines] = head.split('\r\n');
  if (!/^HTTP\/1\.1 101 /.test(statusLine)) throw new Error(`handshake refused: ${statusLine}`);
  const headers = new Map();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  if (headers.get('sec-websocket-accept') !== accept) {
    throw new Error('handshake answer has a wrong Sec-WebSocket-Accept');
  }
  const extensions = headers.get('sec-websocket-extensions') ?? '';
  const accepted = extensions.split(';')[0].trim();
  if (deflate && accepted !== 'permessage-deflate') {
    throw new Error(
      `permessage-deflate was offered but not accepted (${extensions || 'no answer'})`,
    );
  }
  if (!deflate && extensions !== '') {
    throw new Error(`the server answered an extension that was not offered: ${extensions}`);
  }
  return { socket, rest, extensions };
}

/** Reads up to the end of the HTTP answer's headers; returns them and the bytes after them. */
function readHead(socket) {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf(END_OF_HEADERS);
      if (end < 0) return;
      cleanup();
      socket.pause();
      resolve({
        head: buffer.subarray(0, end).toString('latin1'),
        rest: buffer.subarray(end + END_OF_HEADERS.length),
      });
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('the server closed the connection during the handshake'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}
