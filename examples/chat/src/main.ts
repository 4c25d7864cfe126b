/**
 * Runs the chat example: `PORT` (default 8080) and `HOST` (default: every interface) choose
 * where it listens. `npm start` at the repository root runs this.
 */
import { envAddress, runExample } from '@silverback/example-shared';
import { startChat } from './server.js';

runExample(async () => {
  const chat = await startChat({ ...envAddress(8080), log: (line) => console.log(line) });
  console.log(`chat example: open http://localhost:${chat.port}/ in two browser windows`);
  return () => chat.close();
});
