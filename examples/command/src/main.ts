/**
 * Runs the command example: `node dist/main.js <command> [args...]`. `PORT` (default 8080) and
 * `HOST` (default 127.0.0.1) choose where it listens.
 */
import { envAddress, runExample } from '@silverback/example-shared';
import { startCommand } from './server.js';

runExample(async () => {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    console.error('usage: npm start -- <command> [args...]   (for example: npm start -- sh -i)');
    process.exit(2);
  }
  const server = await startCommand({
    command,
    args,
    ...envAddress(8080, '127.0.0.1'),
    log: (line) => console.log(line),
  });
  console.log(`command example: open ${server.url} to run ${[command, ...args].join(' ')}`);
  return () => server.close();
});
