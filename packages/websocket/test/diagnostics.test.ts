/**
 * The `node:diagnostics_channel` channels: what each publishes, on the server and the client.
 */
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage } from 'node:http';
import {
  channels,
  CloseError,
  dial,
  HandshakeError,
  ProtocolError,
  TextMessage,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type HandshakeRefusedMessage,
  type UpgradeTraceContext,
} from '@silverback/websocket';
import { queue, type Queue } from '../../../test/helpers/async';
import { useCleanups } from '../../../test/helpers/cleanups';
import { closePayload, frame } from '../../../test/helpers/frames';
import { rawConnect } from '../../../test/helpers/raw-client';
import { startServer } from '../../../test/helpers/server';
import { rawUpgradeAnswer } from '../../../test/helpers/upgrade-request';

const cleanups = useCleanups();

/** Subscribes to a channel for the test; returns the messages as they come. */
function listen<T>(name: string): Queue<T> {
  const messages = queue<T>();
  const onMessage = (message: unknown): void => messages.push(message as T);
  subscribe(name, onMessage);
  cleanups.push(() => unsubscribe(name, onMessage));
  return messages;
}

test('the channel names', () => {
  expect(channels).toEqual({
    open: 'silverback:connection:open',
    close: 'silverback:connection:close',
    refused: 'silverback:handshake:refused',
    upgrade: 'silverback:upgrade',
  });
});

test('open and close on both sides of a clean close', async () => {
  const opens = listen<ConnectionOpenMessage>(channels.open);
  const closes = listen<ConnectionCloseMessage>(channels.close);
  const server = await startServer();
  cleanups.push(() => server.close());
  const { conn: client } = await dial(`${server.url}/path?q=1`);
  const serverConn = await server.nextConn();

  const first = await opens.next();
  const second = await opens.next();
  const serverOpen = [first, second].find((m) => 'request' in m)!;
  const clientOpen = [first, second].find((m) => 'url' in m)!;
  expect(Object.keys(serverOpen).sort()).toEqual(['conn', 'request']);
  expect(serverOpen.conn).toBe(serverConn);
  expect('request' in serverOpen && serverOpen.request).toBeInstanceOf(IncomingMessage);
  expect('request' in serverOpen && serverOpen.request.url).toBe('/path?q=1');
  expect(clientOpen).toEqual({ conn: client, url: `${server.url}/path?q=1` });

  // The client closes with 4000; the server echoes it.
  void serverConn.readMessage().catch(() => {});
  await client.closeGracefully(4000, 'bye');
  await serverConn.closed;
  const ended = [await closes.next(), await closes.next()];
  expect(ended).toEqual(
    expect.arrayContaining([
      { conn: client, code: 4000, reason: 'bye', error: undefined },
      { conn: serverConn, code: 4000, reason: 'bye', error: undefined },
    ]),
  );
});

test('close reports the code that really ended the connection: the peer’s 1009', async () => {
  const closes = listen<ConnectionCloseMessage>(channels.close);
  const server = await startServer((conn) => conn.readMessage().then(() => {}));
  cleanups.push(() => server.close());
  const client = await rawConnect(server.port);
  cleanups.push(() => client.destroy());
  client.send(frame({ opcode: 8, payload: closePayload(1009, 'too big') }));
  const message = await closes.next();
  expect(message).toMatchObject({ code: 1009, reason: 'too big', error: undefined });
  expect(message.conn.closeStatus()).toEqual({ code: 1009, reason: 'too big', initiator: 'peer' });
});

test('close carries the error that failed the connection', async () => {
  const closes = listen<ConnectionCloseMessage>(channels.close);
  const server = await startServer((conn) => conn.readMessage().then(() => {}));
  cleanups.push(() => server.close());
  const client = await rawConnect(server.port);
  cleanups.push(() => client.destroy());
  client.send(frame({ opcode: 3 })); // a reserved opcode: 1002
  const message = await closes.next();
  expect(message.code).toBe(1002);
  expect(message.error).toBeInstanceOf(ProtocolError);
  expect(message.conn.closeStatus()?.initiator).toBe('local');
});

test('a dropped TCP connection closes with 1006 and a CloseError', async () => {
  const closes = listen<ConnectionCloseMessage>(channels.close);
  const server = await startServer();
  cleanups.push(() => server.close());
  const client = await rawConnect(server.port);
  client.destroy();
  const message = await closes.next();
  expect(message.code).toBe(1006);
  expect(message.reason).toBe('');
  expect(message.error).toBeInstanceOf(CloseError);
  expect(message.error).toMatchObject({ code: 1006 });
});

test('handshake:refused carries the request, the status and the error', async () => {
  const refused = listen<HandshakeRefusedMessage>(channels.refused);
  const server = await startServer();
  cleanups.push(() => server.close());
  const answer = await rawUpgradeAnswer(server.port, '/from-afar', {
    Origin: 'http://elsewhere.example',
  });
  expect(answer.status).toBe(403);
  const message = await refused.next();
  expect(message.request).toBeInstanceOf(IncomingMessage);
  expect(message.request.url).toBe('/from-afar');
  expect(message.status).toBe(403);
  expect(message.error).toBeInstanceOf(HandshakeError);
  expect(message.error).toMatchObject({ status: 403 });
});

test('the upgrade runs under the silverback:upgrade tracing channel', async () => {
  const events: [string, UpgradeTraceContext][] = [];
  const tracing = tracingChannel<unknown, UpgradeTraceContext>(channels.upgrade);
  const handlers = {
    start: (context: UpgradeTraceContext) => events.push(['start', { ...context }]),
    end: (context: UpgradeTraceContext) => events.push(['end', { ...context }]),
    asyncStart: (context: UpgradeTraceContext) => events.push(['asyncStart', { ...context }]),
    asyncEnd: (context: UpgradeTraceContext) => events.push(['asyncEnd', { ...context }]),
    error: (context: UpgradeTraceContext) => events.push(['error', { ...context }]),
  };
  tracing.subscribe(handlers);
  cleanups.push(() => tracing.unsubscribe(handlers));
  const server = await startServer();
  cleanups.push(() => server.close());

  const { conn } = await dial(`${server.url}/traced`);
  cleanups.push(() => conn.close());
  const serverConn = await server.nextConn();
  // asyncEnd follows the promise's settling: one more turn.
  await conn.writeMessage(TextMessage, 'x');
  await serverConn.readMessage();
  expect(events.map(([name]) => name)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
  expect(events[0]![1].request.url).toBe('/traced');
  expect(events[3]![1].result).toBe(serverConn);

  events.length = 0;
  await rawUpgradeAnswer(server.port, '/refused', { Origin: 'http://elsewhere.example' });
  await server.nextFailure();
  expect(events.map(([name]) => name)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  expect(events[2]![1].error).toBeInstanceOf(HandshakeError);
});
