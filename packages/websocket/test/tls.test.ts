/**
 * The Dialer over TLS (`wss:`): options passed through, SNI from the URL's host (never for an IP
 * address), certificate errors surfaced as Node's own errors, TLS over a `netDial` stream.
 */
import { connect } from 'node:net';
import { Dialer, HandshakeError, TextMessage, type Conn } from '@silverback/websocket';
import { echo } from '../../../test/helpers/server';
import {
  generateCertificates,
  startTlsServer,
  type TestCertificates,
  type TlsTestServer,
} from '../../../test/helpers/tls-server';

let certs: TestCertificates;
let server: TlsTestServer;
const conns: Conn[] = [];

beforeAll(async () => {
  certs = generateCertificates(['localhost', 'ws.test'], ['127.0.0.1']);
  server = await startTlsServer(certs, echo, { enableCompression: true });
});

afterEach(() => {
  for (const conn of conns.splice(0)) conn.close();
  server.servernames.length = 0;
});

afterAll(async () => {
  await server.close();
});

async function roundTrip(conn: Conn, text: string): Promise<string> {
  await conn.writeMessage(TextMessage, text);
  return (await conn.readMessage()).data.toString();
}

test('dials wss: with a trusted CA, sending the host name as SNI', async () => {
  const dialer = new Dialer({ tls: { ca: certs.ca } });
  const { conn, response } = await dialer.dial(`wss://localhost:${server.port}/secure`);
  conns.push(conn);
  expect(response.status).toBe(101);
  expect(await roundTrip(conn, 'over TLS')).toBe('over TLS');
  expect(server.servernames).toEqual(['localhost']);
});

test('sends no SNI for an IP address, and checks the IP against the certificate', async () => {
  const dialer = new Dialer({ tls: { ca: certs.ca } });
  const { conn } = await dialer.dial(`wss://127.0.0.1:${server.port}/`);
  conns.push(conn);
  expect(await roundTrip(conn, 'ip')).toBe('ip');
  expect(server.servernames).toEqual([]);
});

test('negotiates compression over TLS', async () => {
  const dialer = new Dialer({ tls: { ca: certs.ca }, enableCompression: true });
  const { conn } = await dialer.dial(`wss://localhost:${server.port}/`);
  conns.push(conn);
  expect(conn.extensions()).toMatch(/^permessage-deflate/);
  const text = 'compressed and encrypted '.repeat(40_000);
  expect(await roundTrip(conn, text)).toBe(text);
});

test("an untrusted certificate rejects with Node's own TLS error", async () => {
  const err: unknown = await new Dialer().dial(`wss://localhost:${server.port}/`).then(
    () => 'connected',
    (e: unknown) => e,
  );
  expect(err).not.toBeInstanceOf(HandshakeError);
  expect(err).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('a certificate for another name rejects with ERR_TLS_CERT_ALTNAME_INVALID', async () => {
  const dialer = new Dialer({ tls: { ca: certs.ca, servername: 'elsewhere.test' } });
  const err: unknown = await dialer.dial(`wss://localhost:${server.port}/`).then(
    () => 'connected',
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  // The servername option replaced the URL's host as SNI.
  expect(server.servernames).toEqual(['elsewhere.test']);
});

test('TLS options pass through: rejectUnauthorized false accepts any certificate', async () => {
  const dialer = new Dialer({ tls: { rejectUnauthorized: false } });
  const { conn } = await dialer.dial(`wss://localhost:${server.port}/`);
  conns.push(conn);
  expect(await roundTrip(conn, 'trusting')).toBe('trusting');
});

test("runs TLS over a netDial stream, with the URL's host as SNI", async () => {
  const dialed: string[] = [];
  const dialer = new Dialer({
    tls: { ca: certs.ca },
    netDial: (url) => {
      dialed.push(url.href);
      return Promise.resolve(connect(server.port, '127.0.0.1'));
    },
  });
  const { conn } = await dialer.dial(`wss://ws.test:${server.port}/via-netdial`);
  conns.push(conn);
  expect(dialed).toEqual([`wss://ws.test:${server.port}/via-netdial`]);
  expect(server.servernames).toEqual(['ws.test']);
  expect(await roundTrip(conn, 'tunnelled')).toBe('tunnelled');
});
