/**
 * The README's quick start, run: the snippet in README.md must be `fixtures/quick-start.ts`
 * verbatim, and that program must do what the README says.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';

function quickStartSnippet(): string {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('no ts block under "## Quick start"');
  return match[1]!;
}

test('the README quick start is the tested program', () => {
  const program = readFileSync(join(__dirname, 'fixtures', 'quick-start.ts'), 'utf8');
  expect(quickStartSnippet()).toBe(program);
});

test('the quick start greets, echoes, and refuses a client without the token', async () => {
  process.env.PORT = '0';
  const { server } = (await import('./fixtures/quick-start.js')) as { server: Server };
  try {
    if (!server.listening) await once(server, 'listening');
    const { port } = server.address() as { port: number };

    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo/ann?token=secret`);
    const messages: string[] = [];
    const two = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        if (messages.push(data.toString()) === 2) resolve();
      }),
    );
    await once(ws, 'open');
    ws.send('echo me');
    await two;
    expect(messages).toEqual(['hello ann', 'echo me']);

    const stranger = new WebSocket(`ws://127.0.0.1:${port}/echo/bob`);
    stranger.on('error', () => {});
    const [, res] = (await once(stranger, 'unexpected-response')) as [
      unknown,
      NodeJS.ReadableStream & { statusCode: number },
    ];
    expect(res.statusCode).toBe(401);
    let body = '';
    for await (const chunk of res) body += String(chunk);
    expect(body).toBe('who are you?');
    stranger.terminate();

    // Closing the server closes the socket with 1001 Going Away.
    const closed = once(ws, 'close') as Promise<[number]>;
    server.close();
    expect((await closed)[0]).toBe(1001);
  } finally {
    delete process.env.PORT;
    if (server.listening) server.close();
    server.closeAllConnections();
  }
});
