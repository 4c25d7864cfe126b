/**
 * What the tests of the framework chat examples (examples/{express,fastify,koa}-chat/test and
 * test/browser/*-chat.test.ts) share: a listening server they can always stop, signing in through
 * the form, sockets that keep the chat lines they receive, and the checks every chat passes alike.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import request from 'supertest';
import WebSocket from 'ws';
import { TextMessage, type Conn } from '@silverback/websocket';
import { serverCloser } from '../helpers/listen';
import { connectWs, type WsClient } from '../helpers/ws-client';

/** A supertest client for one server: `http.get('/')`, `http.post('/login')`. */
export type HttpClient = ReturnType<typeof request>;

/** A server listening on 127.0.0.1 whose every connection is tracked. */
export interface TrackedServer {
  server: Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Ends every connection the server still has, then closes it (if it still listens). */
  stop(): Promise<void>;
}

/**
 * Tracks the connections of `server`, whose `listen()` (the framework's `app.listen()`) has just
 * been called, and resolves once it listens.
 */
export async function trackServer(server: Server): Promise<TrackedServer> {
  const closer = serverCloser(server);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { server, port, base: `http://127.0.0.1:${port}`, stop: () => closer.close() };
}

/** What {@link signIn} got back. */
export interface SignedIn {
  /** The response's `Set-Cookie` headers. */
  setCookie: string[];
  /** The `Cookie` header a browser sends back: every cookie set, without attributes. */
  cookie: string;
}

/** Signs in as `name` through `POST /login`, as the form does; expects the redirect to the chat. */
export async function signIn(http: HttpClient, name: string): Promise<SignedIn> {
  const res = await http.post('/login').type('form').send({ name });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/');
  const setCookie = res.headers['set-cookie'] as unknown as string[];
  return { setCookie, cookie: setCookie.map((each) => each.split(';')[0]!).join('; ') };
}

/** Expects an anonymous visitor of the chat page to be sent to the sign-in form. */
export async function expectSentToLogin(http: HttpClient): Promise<void> {
  const anonymous = await http.get('/');
  expect(anonymous.status).toBe(303);
  expect(anonymous.headers.location).toBe('/login');
}

/** Fetches the chat page with `cookie`; expects the plain chat example's page. */
export async function chatPage(http: HttpClient, cookie: string): Promise<request.Response> {
  const page = await http.get('/').set('Cookie', cookie);
  expect(page.status).toBe(200);
  // The plain chat example's page, which opens its socket at /ws.
  expect(page.text).toContain("location.host + '/ws'");
  return page;
}

/** A signed-in browser's socket: a `ws` client keeping every chat line it receives. */
export interface ChatSocket {
  ws: WebSocket;
  /** The lines received so far, in order. */
  messages: string[];
  /** Resolves once `n` lines have arrived in all. */
  received(n: number): Promise<void>;
}

/** Opens the chat socket at `url` with the session `cookie`; rejects if it is refused. */
export async function openChatSocket(url: string, cookie: string): Promise<ChatSocket> {
  const ws = new WebSocket(url, { headers: { Cookie: cookie } });
  const messages: string[] = [];
  const waiting: [number, () => void][] = [];
  ws.on('message', (data: Buffer) => {
    messages.push(data.toString());
    for (const [n, wake] of waiting) if (messages.length >= n) wake();
  });
  try {
    await once(ws, 'open');
  } catch (err) {
    ws.terminate();
    throw err;
  }
  return {
    ws,
    messages,
    received: (n) =>
      messages.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push([n, resolve])),
  };
}

/**
 * Signs in as `name` and joins the chat at `base` from Node, as a second user next to a browser.
 */
export async function joinFromNode(base: string, name: string): Promise<WsClient> {
  const { cookie } = await signIn(request(base), name);
  return connectWs(`${base.replace('http', 'ws')}/ws`, { headers: { Cookie: cookie } });
}

/**
 * Ann and Bob join, in that order, and greet each other; expects everyone to get every line in
 * order, their own included. Resolves with their sockets, still open.
 */
export async function expectAnnAndBobChat(
  join: (name: string) => Promise<ChatSocket>,
): Promise<[ChatSocket, ChatSocket]> {
  const ann = await join('ann');
  await ann.received(1);
  const bob = await join('bob');
  await Promise.all([ann.received(2), bob.received(1)]);
  ann.ws.send('hi bob');
  await Promise.all([ann.received(3), bob.received(2)]);
  bob.ws.send('hi ann');
  await Promise.all([ann.received(4), bob.received(3)]);
  expect(ann.messages).toEqual(['ann joined', 'bob joined', 'hi bob', 'hi ann']);
  expect(bob.messages).toEqual(['bob joined', 'hi bob', 'hi ann']);
  return [ann, bob];
}

/**
 * Opens the chat socket with `cookie` from another site's page (`Origin: https://evil.example`)
 * and resolves with the status the server refused it with.
 */
export async function crossOriginStatus(url: string, cookie: string): Promise<number> {
  const ws = new WebSocket(url, { headers: { Cookie: cookie }, origin: 'https://evil.example' });
  ws.on('error', () => {});
  try {
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    return res.statusCode ?? 0;
  } finally {
    ws.terminate();
  }
}

/**
 * Expects a connection made in memory for a signed-in `name` to hear its own arrival, then its
 * own message; closes it.
 */
export async function expectChatInMemory(conn: Conn, name: string): Promise<void> {
  expect((await conn.readMessage()).data.toString()).toBe(`${name} joined`);
  await conn.writeMessage(TextMessage, 'from memory');
  expect((await conn.readMessage()).data.toString()).toBe('from memory');
  await conn.closeGracefully();
}
