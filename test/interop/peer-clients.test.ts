/**
 * Interop, side (a): the clients of ws, Python websockets and gorilla/websocket against our
 * Upgrader, with compression off and on. Each case opens one connection through a wire tap.
 */
import { startServer, type TestServer } from '../helpers/server';
import { defineInteropCases, type Session } from './cases';
import type { PeerProcess } from './peer-process';
import { PEERS, PREPARE_TIMEOUT, startClient } from './peers';
import { startTap, type WireTap } from './wire-tap';

describe.each(PEERS)('$name client -> silverback Upgrader', (peer) => {
  beforeAll(() => peer.prepare(), PREPARE_TIMEOUT);

  describe.each([
    { compress: false, mode: 'uncompressed' },
    { compress: true, mode: 'permessage-deflate' },
  ])('$mode', ({ compress }) => {
    let server: TestServer;
    let tap: WireTap;
    let client: PeerProcess | undefined;
    let session: Session | undefined;

    beforeAll(async () => {
      server = await startServer(undefined, { enableCompression: compress });
      tap = await startTap(server.port);
    });

    afterAll(async () => {
      await tap.close();
      await server.close();
    });

    beforeEach(async () => {
      client = startClient(peer, tap.url, compress);
      const [conn, wire, opened] = await Promise.all([
        server.nextConn(),
        tap.nextConnection(),
        client.next('open'),
      ]);
      session = { conn, role: 'server', peer: client, peerConn: opened.conn!, opened, wire };
    });

    afterEach(async () => {
      session?.conn.close();
      session = undefined;
      await client?.stop();
      client = undefined;
    });

    defineInteropCases(compress, () => session!);
  });
});
