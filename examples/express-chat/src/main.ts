/**
 * Runs the Express chat example: `PORT` (default 8082) and `HOST` (default 127.0.0.1) choose where
 * it listens.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { closeServer, envAddress, runExample } from '@silverback/example-shared';
import { createChatApp } from './app.js';

runExample(async () => {
  const chat = createChatApp({ log: (line) => console.log(line) });
  const { port, host } = envAddress(8082, '127.0.0.1');
  const server = chat.app.listen(port, host);
  await once(server, 'listening');
  console.log(
    `express chat example: open http://${host}:${(server.address() as AddressInfo).port}/ in two browser windows`,
  );
  // server.close() closes the websockets with 1001 Going Away; the hub lets its clients go.
  return () => Promise.all([closeServer(server), chat.close()]);
});
