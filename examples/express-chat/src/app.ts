/**
 * gorilla's chat example served by Express: the plain chat example's hub and page, behind a
 * session middleware that protects the page and the socket alike.
 *
 * - `GET /login` shows a form; `POST /login` starts a session (a random token in an HttpOnly
 *   cookie) and redirects to the chat.
 * - `GET /` serves the chat page to a logged-in user, and redirects anyone else to `/login`.
 * - `/ws` is the socket. The same session middleware runs before the upgrade: without a session
 *   the upgrade is refused with 401, with a session the connection joins the hub.
 *
 * @module
 */

import express, { type Application, type NextFunction, type Request, type Response } from 'express';
import { Hub, chatPagePath, type HubOptions } from '@silverback/example-chat';
import { websocket, type ExpressWebSocket } from '@silverback/express';
import {
  NAME_RULE,
  SESSION_COOKIE,
  Sessions,
  chatName,
  joinChat,
  loginPage,
} from '@silverback/example-shared';

export { SESSION_COOKIE };

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  /** The hub to serve, or options for a new one (short deadlines in tests, say). */
  hub?: Hub | HubOptions;
  /** Receives one line per event worth logging; default: silent. */
  log?: (line: string) => void;
}

/** The chat application and what it runs. */
export interface ChatApp {
  /** The Express application: `app.listen(port)` serves it. */
  app: Application;
  /** The hub every connection joins. */
  hub: Hub;
  /** The app's websocket handle. */
  ws: ExpressWebSocket;
  /** Logged-in users by session token. */
  sessions: Sessions;
  /** Closes every chat connection with 1001 Going Away; resolves once they are closed. */
  close(): Promise<void>;
}

/** Builds the chat application. */
export function createChatApp(options: ChatAppOptions = {}): ChatApp {
  const log = options.log ?? (() => {});
  const hub = options.hub instanceof Hub ? options.hub : new Hub(options.hub);
  const sessions = new Sessions();
  const loginHtml = loginPage({ title: 'Chat: log in' });
  const app = express();
  // gorilla's chat buffer sizes, compression for the browsers that offer it; same-origin check.
  const ws = websocket(app, {
    readBufferSize: 1024,
    writeBufferSize: 1024,
    enableCompression: true,
  });

  // Who is asking: the user of the session cookie, for every request, upgrades included.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.user = sessions.userOf(req.get('cookie'));
    next();
  });

  app.get('/login', (_req, res) => res.type('html').send(loginHtml));
  app.post('/login', express.urlencoded({ extended: false }), (req, res) => {
    const name = chatName((req.body as { name?: unknown } | undefined)?.name);
    if (name === undefined) {
      res.status(400).type('text').send(NAME_RULE);
      return;
    }
    res.cookie(SESSION_COOKIE, sessions.start(name), {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
    });
    res.redirect(303, '/');
  });

  app.get('/', (_req, res) => {
    if (userOf(res) === undefined) res.redirect(303, '/login');
    else res.sendFile(chatPagePath);
  });

  // The socket is protected by the same session: the upgrade is refused with a real 401.
  const requireUser = (_req: Request, res: Response, next: NextFunction): void => {
    if (userOf(res) === undefined) res.status(401).type('text').send('Log in first\n');
    else next();
  };

  app.ws('/ws', requireUser, (conn, req) => {
    const user = userOf(req.res!)!;
    void joinChat(hub, conn, user, (event, online) => log(`${user} ${event} (${online} online)`));
  });

  return {
    app,
    hub,
    ws,
    sessions,
    async close() {
      await hub.close();
      await ws.close();
    },
  };
}

function userOf(res: Response): string | undefined {
  return res.locals.user as string | undefined;
}
