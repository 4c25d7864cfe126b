/**
 * Runs the filewatch example: `node dist/main.js <file>`. `PORT` (default 8080) and `HOST`
 * (default 127.0.0.1) choose where it listens.
 */
import { resolve } from 'node:path';
import { startFilewatch } from './server.js';

async function main(): Promise<void> {
  const [file, ...rest] = process.argv.slice(2);
  if (file === undefined || rest.length > 0) {
    console.error('usage: npm start -- <file>');
    process.exit(2);
  }
  const server = await startFilewatch({
    file: resolve(process.env.INIT_CWD ?? process.cwd(), file),
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? '127.0.0.1',
    log: (line) => console.log(line),
  });
  console.log(`filewatch example: open ${server.url} to watch ${file}`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
