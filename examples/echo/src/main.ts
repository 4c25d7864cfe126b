/**
 * Runs the echo example: `PORT` (default 8081) and `HOST` (default 127.0.0.1) choose where it
 * listens.
 */
import { startEcho } from './server.js';

async function main(): Promise<void> {
  const echo = await startEcho({
    port: Number(process.env.PORT ?? 8081),
    host: process.env.HOST ?? '127.0.0.1',
    log: (line) => console.log(line),
  });
  console.log(`echo example: open ${echo.url} in a browser`);
  const stop = (): void => {
    void echo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
