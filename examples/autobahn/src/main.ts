/**
 * Runs the Autobahn echo server: `PORT` (default 9001) and `HOST` (default 127.0.0.1) say where.
 * Ctrl-C closes every connection with 1001 (Going Away) and exits.
 *
 * @module
 */

import { envAddress, runExample } from '@silverback/example-shared';
import { startEchoServer } from './server.js';

runExample(async () => {
  const { port, host } = envAddress(9001, '127.0.0.1');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`PORT must be a port number, not ${process.env.PORT}`);
  }
  const echo = await startEchoServer({ port, host });
  console.log(`Autobahn echo server listening on ${echo.url} (streaming echo: ${echo.url}/stream)`);
  return () => echo.close();
});
