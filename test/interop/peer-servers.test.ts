/**
 * Interop, side (b): our Dialer against the servers of ws, Python websockets and
 * gorilla/websocket, with compression off and on. Each case opens one connection through a wire
 * tap; the peer server runs for the whole block.
 */
import { Dialer } from '@silverback/websocket';
import { defineInteropCases, type Session } from './cases';
import type { PeerProcess } from './peer-process';
import { PEERS, PREPARE_TIMEOUT, startPeerServer } from './peers';
import { startTap, type WireTap } from './wire-tap';

describe.each(PEERS)('silverback Dialer -> $name server', (peer) => {
  beforeAll(() => peer.prepare(), PREPARE_TIMEOUT);

  describe.each([
    { compress: false, mode: 'uncompressed' },
    { compress: true, mode: 'permessage-deflate' },
  ])('$mode', ({ compress }) => {
    let server: PeerProcess | undefined;
    let tap: WireTap | undefined;
    let session: Session | undefined;

    beforeAll(async () => {
      const started = await startPeerServer(peer, compress);
      server = started.process;
      tap = await startTap(started.port);
    });

    afterAll(async () => {
      await tap?.close();
      await server?.stop();
    });

    beforeEach(async () => {
      const dialer = new Dialer({ enableCompression: compress });
      const [{ conn }, wire, opened] = await Promise.all([
        dialer.dial(tap!.url),
        tap!.nextConnection(),
        server!.next('open'),
      ]);
      session = { conn, role: 'client', peer: server!, peerConn: opened.conn!, opened, wire };
    });

    afterEach(() => {
      session?.conn.close();
      session = undefined;
    });

    defineInteropCases(compress, () => session!);
  });
});
