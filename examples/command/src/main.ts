/**
 * Runs the command example: `node dist/main.js <command> [args...]`. `PORT` (default 8080) and
 * `HOST` (default 127.0.0.1) choose where it listens.
 */
import { startCommand } from './server.js';

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    console.error('usage: npm start -- <command> [args...]   (for example: npm start -- sh -i)');
    process.exit(2);
  }
  const server = await startCommand({
    command,
    args,
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? '127.0.0.1',
    log: (line) => console.log(line),
  });
  console.log(`command example: open ${server.url} to run ${[command, ...args].join(' ')}`);
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
