/**
 * Runs the filewatch example: `node dist/main.js <file>`. `PORT` (default 8080) and `HOST`
 * (default 127.0.0.1) choose where it listens.
 */
import { resolve } from 'node:path';
import { envAddress, runExample } from '@silverback/example-shared';
import { startFilewatch } from './server.js';

runExample(async () => {
  const [file, ...rest] = process.argv.slice(2);
  if (file === undefined || rest.length > 0) {
    console.error('usage: npm start -- <file>');
    process.exit(2);
  }
  const server = await startFilewatch({
    file: resolve(process.env.INIT_CWD ?? process.cwd(), file),
    ...envAddress(8080, '127.0.0.1'),
    log: (line) => console.log(line),
  });
  console.log(`filewatch example: open ${server.url} to watch ${file}`);
  return () => server.close();
});
