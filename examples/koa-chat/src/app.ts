/**
 * gorilla's chat example served by Koa and `@koa/router`: the plain chat example's hub and page,
 * behind a login that protects the page and the socket alike.
 *
 * - `GET /login` shows a form; `POST /login` signs the user in: their name goes into a cookie
 *   signed with the app's keys (Koa's `ctx.cookies`, HttpOnly, SameSite=Strict), and the browser
 *   is sent to the chat.
 * - `GET /` serves the chat page to a signed-in user, and sends anyone else to `/login`.
 * - `/ws` is the socket. The same session middleware runs before the upgrade, and the route's
 *   `requireUser` answers 401 without a valid signed cookie: the upgrade never happens. With
 *   one, the connection joins the hub.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Koa from 'koa';
import Router, { type RouterMiddleware } from '@koa/router';
import { Hub, chatPagePath, type HubOptions } from '@silverback/example-chat';
import { websocket, websocketRoute, type KoaWebSocket } from '@silverback/koa';
import { NAME_RULE, chatName, joinChat, loginPage } from '@silverback/example-shared';

/** The name of the cookie that carries the signed-in user's name. */
export const USER_COOKIE = 'chat_user';

/** What the middleware learns about a request, on `ctx.state`. */
export interface ChatState {
  /** The signed-in user's name, from the signed cookie; undefined for anonymous requests. */
  user?: string;
}

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  /** The hub to serve, or options for a new one (short deadlines in tests, say). */
  hub?: Hub | HubOptions;
  /**
   * The keys that sign the user cookie (Koa's `app.keys`). Default: one random key, so sign-ins
   * last as long as the process.
   */
  keys?: string[];
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** The chat application and what it runs. */
export interface ChatApp {
  /** The Koa application: `app.listen(port)` serves it, sockets included. */
  app: Koa<ChatState>;
  /** The hub every connection joins. */
  hub: Hub;
  /** The app's websocket handle (live connections, shutdown). */
  ws: KoaWebSocket;
  /** Closes every chat connection with 1001 Going Away; resolves once they are closed. */
  close(): Promise<void>;
}

const MAX_FORM_BYTES = 1024;

/** Builds the chat application. */
export function createChatApp(options: ChatAppOptions = {}): ChatApp {
  const log = options.log ?? (() => {});
  const hub = options.hub instanceof Hub ? options.hub : new Hub(options.hub);
  const chatPage = readFileSync(chatPagePath);
  // The form keeps the id this example's page always gave it: its tests find the form by it.
  const loginHtml = loginPage({ title: 'silverback chat on Koa: sign in', formId: 'login' });

  const app = new Koa<ChatState>({ keys: options.keys ?? [randomBytes(32).toString('base64')] });
  // Upgrade requests meet the same middleware as page requests. gorilla's chat buffer sizes,
  // compression for the browsers that offer it, and the default same-origin check, so another
  // site's page cannot open the socket with the user's cookie.
  const ws = websocket({ readBufferSize: 1024, writeBufferSize: 1024, enableCompression: true });
  app.use(ws);

  // Who is asking: the user of the signed cookie, for every request, upgrades included. A cookie
  // whose signature does not match the app's keys counts as none.
  app.use(async (ctx, next) => {
    const signed = ctx.cookies.get(USER_COOKIE, { signed: true });
    ctx.state.user = signed === undefined ? undefined : decodeURIComponent(signed);
    await next();
  });

  const router = new Router<ChatState>();

  router.get('/login', (ctx) => {
    ctx.type = 'html';
    ctx.body = loginHtml;
  });

  router.post('/login', async (ctx) => {
    const name = chatName((await readForm(ctx)).get('name'));
    if (name === undefined) {
      ctx.status = 400;
      ctx.body = NAME_RULE;
      return;
    }
    ctx.cookies.set(USER_COOKIE, encodeURIComponent(name), {
      signed: true,
      httpOnly: true,
      sameSite: 'strict',
    });
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.get('/', (ctx) => {
    if (ctx.state.user === undefined) {
      ctx.status = 303;
      ctx.redirect('/login');
      return;
    }
    ctx.type = 'html';
    ctx.body = chatPage;
  });

  // The socket is protected by the same session: without it the upgrade is refused with a real
  // 401, status and body, before any WebSocket handshake.
  const requireUser: RouterMiddleware<ChatState> = async (ctx, next) => {
    if (ctx.state.user === undefined) {
      ctx.status = 401;
      ctx.body = 'Log in first\n';
      return;
    }
    await next();
  };

  router.get(
    '/ws',
    requireUser,
    websocketRoute<ChatState>((conn, ctx) => {
      const user = ctx.state.user!;
      void joinChat(hub, conn, user, (event, online) => log(`${user} ${event} (${online} online)`));
    }),
  );

  app.use(router.routes());
  app.use(router.allowedMethods());

  return {
    app,
    hub,
    ws,
    async close() {
      await hub.close();
      await ws.close();
    },
  };
}

/**
 * Reads an `application/x-www-form-urlencoded` request body of at most {@link MAX_FORM_BYTES}.
 * Koa parses no bodies itself, and one small form does not need a body-parser dependency.
 */
async function readForm(ctx: Koa.Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'Send the login form\n');
  const length = Number(ctx.get('content-length') || 0);
  if (length > MAX_FORM_BYTES) ctx.throw(413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) ctx.throw(413);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
