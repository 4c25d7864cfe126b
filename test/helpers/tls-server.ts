/**
 * TLS test servers (`wss:`) with certificates made at test time by the machine's `openssl`, so
 * no private key is ever committed: a throwaway certificate authority and a server certificate
 * it signed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Upgrader, type Conn, type UpgraderOptions } from '@silverback/websocket';
import { listenOnLoopback, serverCloser } from './listen';

/** A CA certificate, and a server key and certificate signed by it. */
export interface TestCertificates {
  /** The CA's certificate (PEM): trust it with `tls: { ca }`. */
  ca: string;
  /** The server's private key (PEM). */
  key: string;
  /** The server's certificate (PEM), for the names given. */
  cert: string;
}

/**
 * Generates a CA and a server certificate valid for `dnsNames` and `ipAddresses` (subject
 * alternative names), valid for one day. Throws when `openssl` is missing.
 */
export function generateCertificates(
  dnsNames: string[] = ['localhost'],
  ipAddresses: string[] = ['127.0.0.1'],
): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'silverback-tls-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=silverback test CA',
    );
    openssl(
      'req',
      ...ec,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      `/CN=${dnsNames[0] ?? ipAddresses[0] ?? 'server'}`,
    );
    const names = [...dnsNames.map((n) => `DNS:${n}`), ...ipAddresses.map((ip) => `IP:${ip}`)];
    writeFileSync(file('ext.cnf'), `subjectAltName=${names.join(',')}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.crt'),
      '-days',
      '1',
      '-extfile',
      file('ext.cnf'),
    );
    return {
      ca: readFileSync(file('ca.crt'), 'utf8'),
      key: readFileSync(file('server.key'), 'utf8'),
      cert: readFileSync(file('server.crt'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A listening TLS test server. */
export interface TlsTestServer {
  server: Server;
  port: number;
  /** The SNI server names of the TLS client hellos received, in order (none when none was sent). */
  servernames: string[];
  /** Connections upgraded so far, in order. */
  conns: Conn[];
  /** Destroys every socket and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts an HTTPS server on 127.0.0.1 port 0 with `certs`, whose upgrade requests go through an
 * {@link Upgrader} with `options` and whose connections go to `handler`.
 */
export async function startTlsServer(
  certs: TestCertificates,
  handler: (conn: Conn, req: IncomingMessage) => void | Promise<void>,
  options: UpgraderOptions = {},
): Promise<TlsTestServer> {
  const upgrader = new Upgrader(options);
  const servernames: string[] = [];
  const server = createServer({
    key: certs.key,
    cert: certs.cert,
    SNICallback: (name, callback) => {
      servernames.push(name);
      callback(null); // the server's own certificate, whatever the name
    },
  });
  const closer = serverCloser(server);
  const conns: Conn[] = [];
  // A client that refuses our certificate ends the TLS handshake; that is the test's business.
  server.on('tlsClientError', () => {});
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrader.upgrade(req, socket, head).then(
      (conn) => {
        conns.push(conn);
        Promise.resolve(handler(conn, req)).catch(() => conn.close());
      },
      () => {},
    );
  });
  const port = await listenOnLoopback(server);
  return { server, port, servernames, conns, close: closer.close };
}
