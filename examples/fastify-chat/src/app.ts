/**
 * gorilla's chat example served by Fastify: the plain chat example's hub and page, behind a
 * session that an auth hook checks for the page and the socket alike.
 *
 * - `GET /login` shows a form; `POST /login` starts a session (a random token in an HttpOnly
 *   cookie) and redirects to the chat.
 * - `GET /` serves the chat page to a signed-in user and redirects anyone else to `/login`.
 * - `/ws` is the socket, declared in an encapsulated plugin whose `onRequest` hook refuses
 *   requests without a session with 401. The hook runs before the upgrade, so a browser without a
 *   session gets that 401 and never a socket; with a session the connection joins the hub.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { Hub, chatPagePath, type HubOptions } from '@silverback/example-chat';
import websocket from '@silverback/fastify';
import {
  NAME_RULE,
  SESSION_COOKIE,
  Sessions,
  chatName,
  joinChat,
  loginPage,
} from '@silverback/example-shared';

export { SESSION_COOKIE };

/** Options of {@link buildChatApp}. */
export interface ChatAppOptions {
  /** The hub to serve, or options for a new one (short deadlines in tests, say). */
  hub?: Hub | HubOptions;
  /** Fastify's logger option; default: off. */
  logger?: FastifyServerOptions['logger'];
}

/** The chat application and what it runs. */
export interface ChatApp {
  /** The Fastify application: `app.listen()` serves it, `app.close()` stops it. */
  app: FastifyInstance;
  /** The hub every connection joins. */
  hub: Hub;
  /** Signed-in users by session token. */
  sessions: Sessions;
}

/**
 * Builds the chat application, ready to listen. Closing it (`app.close()`) closes every chat
 * socket with 1001 Going Away and waits for the hub's clients to finish.
 */
export async function buildChatApp(options: ChatAppOptions = {}): Promise<ChatApp> {
  const hub = options.hub instanceof Hub ? options.hub : new Hub(options.hub);
  const sessions = new Sessions();
  const chatPage = await readFile(chatPagePath);
  const loginHtml = loginPage({ title: 'silverback chat (Fastify): sign in' });

  // On close, after the plugin has closed the sockets with 1001, drop every HTTP connection still
  // open: a browser keeps spare connections that have sent no request, which Fastify would
  // otherwise wait for until their header timeout.
  const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });
  // gorilla's chat buffer sizes, compression for the browsers that offer it, and the default
  // same-origin check: another site's page cannot open the socket with the user's cookie.
  await app.register(websocket, {
    readBufferSize: 1024,
    writeBufferSize: 1024,
    enableCompression: true,
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  // Who is asking: the user of the session cookie, for every request, upgrades included.
  app.decorateRequest('user', null);
  app.addHook('onRequest', (request, _reply, done) => {
    request.setDecorator('user', sessions.userOf(request.headers.cookie) ?? null);
    done();
  });

  app.get('/login', (_request, reply) => reply.type('text/html; charset=utf-8').send(loginHtml));
  app.post<{ Body: { name?: unknown } }>('/login', (request, reply) => {
    const name = chatName(request.body?.name);
    if (name === undefined) return reply.code(400).send(NAME_RULE);
    const token = sessions.start(name);
    void reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`,
    );
    return reply.redirect('/', 303);
  });

  app.get('/', (request, reply) => {
    if (userOf(request) === null) return reply.redirect('/login', 303);
    return reply.type('text/html; charset=utf-8').send(chatPage);
  });

  // The socket lives in its own encapsulated scope, whose auth hook answers 401 without a session.
  await app.register((scope, _options, done) => {
    scope.addHook('onRequest', requireUser);
    scope.get('/ws', { websocket: true }, (conn, request) => {
      const user = userOf(request)!;
      void joinChat(hub, conn, user, (event, online) => request.log.info({ user, online }, event));
    });
    done();
  });

  // The plugin's preClose hook has closed the sockets with 1001; let the hub's clients finish.
  app.addHook('onClose', async () => {
    await hub.close();
  });

  return { app, hub, sessions };
}

function requireUser(
  request: FastifyRequest,
  reply: FastifyReply,
  done: (err?: Error) => void,
): void {
  if (userOf(request) === null) void reply.code(401).send('Sign in first\n');
  else done();
}

function userOf(request: FastifyRequest): string | null {
  return request.getDecorator<string | null>('user');
}
