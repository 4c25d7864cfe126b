/**
 * Runs the Fastify chat example: `PORT` (default 8083) and `HOST` (default 127.0.0.1) choose
 * where it listens.
 */
import type { AddressInfo } from 'node:net';
import { envAddress, runExample } from '@silverback/example-shared';
import { buildChatApp } from './app.js';

runExample(async () => {
  const { app } = await buildChatApp({ logger: true });
  const { port, host } = envAddress(8083, '127.0.0.1');
  await app.listen({ port, host });
  console.log(
    `fastify chat example: open http://${host}:${(app.server.address() as AddressInfo).port}/ in two browser windows`,
  );
  // fastify.close() closes every chat socket with 1001 Going Away and waits for them.
  return () => app.close();
});
