/**
 * Runs the echo example: `PORT` (default 8081) and `HOST` (default 127.0.0.1) choose where it
 * listens.
 */
import { envAddress, runExample } from '@silverback/example-shared';
import { startEcho } from './server.js';

runExample(async () => {
  const echo = await startEcho({
    ...envAddress(8081, '127.0.0.1'),
    log: (line) => console.log(line),
  });
  console.log(`echo example: open ${echo.url} in a browser`);
  return () => echo.close();
});
