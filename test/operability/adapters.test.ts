/**
 * What every adapter inherits from the core's operability layer, checked alike for Express,
 * Fastify and Koa: the diagnostics channels see Node's own request (not the framework's), a
 * hook's refusal is published with its status, and connections are kept alive by default.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage, type Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import {
  channels,
  TextMessage,
  type Conn,
  type ConnectionOpenMessage,
  type HandshakeRefusedMessage,
} from '@silverback/websocket';
import { inject as injectExpress, websocket as expressWebSocket } from '@silverback/express';
import fastifyWebSocket from '@silverback/fastify';
import { inject as injectKoa, websocket as koaWebSocket } from '@silverback/koa';
import { queue, settle, type Queue } from '../helpers/async';
import { useCleanups } from '../helpers/cleanups';
import { serverCloser } from '../helpers/listen';
import { rawUpgradeAnswer } from '../helpers/upgrade-request';
import { wsClients } from '../helpers/ws-client';

const cleanups = useCleanups();
const { open } = wsClients(cleanups);

function listen<T>(name: string): Queue<T> {
  const messages = queue<T>();
  const onMessage = (message: unknown): void => messages.push(message as T);
  subscribe(name, onMessage);
  cleanups.push(() => unsubscribe(name, onMessage));
  return messages;
}

/** An app with `/echo` behind an auth check answering 401 without `?token=yes`. */
interface Built {
  /** Starts listening on loopback; resolves with the server. */
  start(): Promise<Server>;
  /** Opens a client Conn without a port. */
  inject(path: string): Promise<Conn>;
}

async function echo(conn: Conn): Promise<void> {
  for await (const { type, data } of conn) await conn.writeMessage(type, data);
}

const adapters: Record<string, () => Promise<Built>> = {
  express: () => {
    const app = express();
    const handle = expressWebSocket(app);
    cleanups.push(() => handle.close({ drainMs: 50 }));
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (req.query.token === 'yes') next();
      else res.status(401).send('who are you?');
    });
    app.ws('/echo', echo);
    return Promise.resolve({
      start: async () => {
        const server = app.listen(0, '127.0.0.1');
        cleanups.push(serverCloser(server).close);
        await new Promise((resolve) => server.once('listening', resolve));
        return server;
      },
      inject: (path) => injectExpress(app, path),
    });
  },
  fastify: async () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    await app.register(fastifyWebSocket);
    app.addHook('onRequest', async (request, reply) => {
      if ((request.query as { token?: string }).token !== 'yes') {
        return reply.code(401).send('who are you?');
      }
    });
    app.get('/echo', { websocket: true }, echo);
    return {
      start: async () => {
        await app.listen({ port: 0, host: '127.0.0.1' });
        return app.server;
      },
      inject: (path) => app.injectWS(path),
    };
  },
  koa: () => {
    const app = new Koa();
    app.on('error', () => {}); // a client dropping mid-echo is no news here
    const middleware = koaWebSocket();
    cleanups.push(() => middleware.close({ drainMs: 50 }));
    app.use(middleware);
    app.use(async (ctx, next) => {
      if (ctx.query.token !== 'yes') {
        ctx.status = 401;
        ctx.body = 'who are you?';
        return;
      }
      if (ctx.path === '/echo' && ctx.ws) await echo(await ctx.ws());
      else await next();
    });
    return Promise.resolve({
      start: async () => {
        const listening = app.listen(0, '127.0.0.1');
        cleanups.push(serverCloser(listening).close);
        await new Promise((resolve) => listening.once('listening', resolve));
        return listening;
      },
      inject: (path) => injectKoa(app, path),
    });
  },
};

describe.each(Object.keys(adapters))('%s', (name) => {
  test("the open channel carries Node's IncomingMessage; a hook's 401 is published as refused", async () => {
    const opens = listen<ConnectionOpenMessage>(channels.open);
    const refusals = listen<HandshakeRefusedMessage>(channels.refused);
    const built = await adapters[name]!();
    const server = await built.start();
    const port = (server.address() as { port: number }).port;

    const ws = await open(port, '/echo?token=yes');
    const opened = await opens.next();
    expect('request' in opened && opened.request).toBeInstanceOf(IncomingMessage);
    expect('request' in opened && opened.request.url).toBe('/echo?token=yes');
    ws.close();

    const answer = await rawUpgradeAnswer(port, '/echo');
    expect(answer.status).toBe(401);
    const refused = await refusals.next();
    expect(refused.status).toBe(401);
    expect(refused.request).toBeInstanceOf(IncomingMessage);
    expect(refused.request.url).toBe('/echo');
    expect(refused.error.message).toMatch(/answered 401 Unauthorized instead of upgrading/);
  });

  describe('on a fake clock', () => {
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    test('connections are kept alive by default: a ping after 30 s of silence', async () => {
      const built = await adapters[name]!();
      const conn = await built.inject('/echo?token=yes');
      cleanups.push(() => conn.close());
      const pings: string[] = [];
      conn.setPingHandler((data) => void pings.push(data.toString()));
      // The client reads, so that control frames are handled as they come.
      const reading = conn.readMessage().catch(() => undefined);
      await settle();
      jest.advanceTimersByTime(29_999);
      await settle();
      expect(pings).toEqual([]);
      jest.advanceTimersByTime(1);
      for (let i = 0; i < 5 && pings.length === 0; i++) await settle();
      expect(pings).toEqual(['']);
      await conn.writeMessage(TextMessage, 'still here');
      await reading;
    });
  });
});
