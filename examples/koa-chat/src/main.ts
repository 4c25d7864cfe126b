/**
 * Runs the Koa chat example: `PORT` (default 8084) and `HOST` (default 127.0.0.1) choose where it
 * listens.
 */
import { once } from 'node:events';
import { createChatApp } from './app.js';

async function main(): Promise<void> {
  const chat = createChatApp({ log: (line) => console.log(line) });
  const port = Number(process.env.PORT ?? 8084);
  const host = process.env.HOST ?? '127.0.0.1';
  // app.listen() as it is: the websocket() middleware serves the server it creates.
  const server = chat.app.listen(port, host);
  await once(server, 'listening');
  console.log(`koa chat example: open http://${host}:${port}/ in two browser windows`);
  const stop = (): void => {
    // server.close() closes the websockets with 1001 Going Away; the hub lets its clients go.
    server.close(() => process.exit(0));
    void chat.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
