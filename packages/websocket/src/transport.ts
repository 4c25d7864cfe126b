/**
 * The byte stream under a connection. RFC 6455's frames run unchanged over a TCP or TLS socket,
 * over any `Duplex` an application hands the {@link Dialer}, and over an HTTP/2 stream (RFC 8441
 * section 5: the peers use the stream "as if it were the TCP connection"). A {@link Conn} reads
 * and writes the `Duplex`; its {@link Transport} tells it the rest, which differs by kind: how to
 * drop the connection, and where it runs.
 *
 * @module
 */

import { constants as http2Constants, type Http2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * What a connection needs of its byte stream beyond the `Duplex` itself.
 *
 * @internal
 */
export interface Transport {
  /**
   * Drops the connection at once: a socket is destroyed, an HTTP/2 stream is reset with
   * `CANCEL` (RFC 8441 section 5), its session left alone. The stream's `'close'` follows.
   */
  abort(): void;
  /** The local address of the TCP connection underneath, when there is one. */
  localAddress(): AddressInfo | undefined;
  /** The peer's address of the TCP connection underneath, when there is one. */
  remoteAddress(): AddressInfo | undefined;
}

type AddressSource = Partial<
  Pick<
    Socket,
    'localAddress' | 'localPort' | 'localFamily' | 'remoteAddress' | 'remotePort' | 'remoteFamily'
  >
>;

function localOf(source: AddressSource): AddressInfo | undefined {
  if (source.localAddress === undefined || source.localPort === undefined) return undefined;
  return { address: source.localAddress, family: source.localFamily ?? '', port: source.localPort };
}

function remoteOf(source: AddressSource): AddressInfo | undefined {
  if (source.remoteAddress === undefined || source.remotePort === undefined) return undefined;
  return {
    address: source.remoteAddress,
    family: source.remoteFamily ?? '',
    port: source.remotePort,
  };
}

/**
 * The transport of a socket, or of any `Duplex` standing in for one. A socket sends each write
 * at once (no Nagle delay: frames are written whole, and a close frame must not wait) and never
 * times out on its own (deadlines are the connection's).
 *
 * @internal
 */
export function socketTransport(socket: Duplex): Transport {
  const net = socket as Partial<Socket>;
  net.setNoDelay?.(true);
  net.setTimeout?.(0);
  return {
    abort: () => socket.destroy(),
    localAddress: () => localOf(net),
    remoteAddress: () => remoteOf(net),
  };
}

/**
 * The transport of an HTTP/2 stream (RFC 8441): dropping it resets the stream with `CANCEL` and
 * leaves the session and its other streams alone; the addresses are those of the session's TCP
 * connection, read now, as a closed stream no longer knows its session. The session's socket is
 * not tuned here: it is shared, and belongs to whoever opened the session.
 *
 * @internal
 */
export function http2StreamTransport(stream: Http2Stream): Transport {
  stream.setTimeout(0);
  const socket: AddressSource = stream.session?.socket ?? {};
  const local = localOf(socket);
  const remote = remoteOf(socket);
  return {
    abort: () => {
      if (!stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
      else if (!stream.destroyed) stream.destroy();
    },
    localAddress: () => local,
    remoteAddress: () => remote,
  };
}
