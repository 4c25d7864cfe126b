/**
 * Runs the chat example: `PORT` (default 8080) and `HOST` (default: every interface) choose
 * where it listens. `npm start` at the repository root runs this.
 */
import { startChat } from './server.js';

async function main(): Promise<void> {
  const chat = await startChat({
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST,
    log: (line) => console.log(line),
  });
  console.log(`chat example: open http://localhost:${chat.port}/ in two browser windows`);
  const stop = (): void => {
    void chat.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
