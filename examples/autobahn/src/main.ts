/**
 * Runs the Autobahn echo server: `PORT` (default 9001) and `HOST` (default 127.0.0.1) say where.
 * Ctrl-C closes every connection with 1001 (Going Away) and exits.
 *
 * @module
 */

import { startEchoServer } from './server.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 9001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`PORT must be a port number, not ${process.env.PORT}`);
  }
  const echo = await startEchoServer({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`Autobahn echo server listening on ${echo.url} (streaming echo: ${echo.url}/stream)`);

  const stop = (): void => {
    echo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
