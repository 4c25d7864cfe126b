import Fastify, { type FastifyInstance } from 'fastify';
import { HandshakeError, TextMessage } from '@silverback/websocket';
import websocket, { inject } from '@silverback/fastify';

let app: FastifyInstance;
afterEach(async () => {
  await app.close();
});

test('inject, exported as by every adapter, opens a Conn through the real hooks', async () => {
  app = Fastify();
  await app.register(websocket);
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.authorization !== 'Bearer t') await reply.code(401).send('no');
  });
  app.get('/echo', { websocket: true }, async (conn) => {
    for await (const { type, data } of conn) await conn.writeMessage(type, data);
  });
  const refused = await inject(app, '/echo').catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(HandshakeError);
  expect(refused).toMatchObject({ status: 401 });
  const conn = await inject(app, '/echo', { headers: { authorization: 'Bearer t' } });
  await conn.writeMessage(TextMessage, 'hi');
  expect((await conn.readMessage()).data.toString()).toBe('hi');
  await conn.closeGracefully();
});
