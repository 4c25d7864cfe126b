// The ceiling: answers the opening handshake, then echoes every byte unchanged (the client's masked
// frames go back as they came). No WebSocket work at all, so what the load generator measures here
// is the most it and the loopback can carry.
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { serve } from './harness.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const END_OF_HEADERS = Buffer.from('\r\n\r\n');

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let head = Buffer.alloc(0);
  const onHandshake = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(END_OF_HEADERS);
    if (end < 0) return;
    socket.off('data', onHandshake);
    const request = head.subarray(0, end).toString('latin1');
    const key = /^sec-websocket-key:[ \t]*(\S+)/im.exec(request)?.[1] ?? '';
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const rest = head.subarray(end + END_OF_HEADERS.length);
    if (rest.length > 0) socket.write(rest);
    socket.pipe(socket);
  };
  socket.on('data', onHandshake);
});

serve(server);
