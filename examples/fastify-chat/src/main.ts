/**
 * Runs the Fastify chat example: `PORT` (default 8083) and `HOST` (default 127.0.0.1) choose
 * where it listens.
 */
import { buildChatApp } from './app.js';

async function main(): Promise<void> {
  const { app } = await buildChatApp({ logger: true });
  const port = Number(process.env.PORT ?? 8083);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen({ port, host });
  console.log(`fastify chat example: open http://${host}:${port}/ in two browser windows`);
  const stop = (): void => {
    // fastify.close() closes every chat socket with 1001 Going Away and waits for them.
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
