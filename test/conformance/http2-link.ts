/**
 * The server suite's judged connections over HTTP/2 (RFC 8441): an extended CONNECT opened by the
 * client the transport names, then exact bytes on the stream, judged as on TCP. The stream's two
 * ends play the TCP connection's: the client ends its side when the server ends its own, as a TCP
 * client without `allowHalfOpen` does, and the server's byte counts come from its stream.
 */
import { EventEmitter, once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  Http2SecureServer,
  ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { Http2Sessions, type DialAttempt } from '@silverback/websocket/http2-client';
import { connectH2, extendedConnect, testCertificates } from '../helpers/h2';
import { rawPeer, type RawPeer } from '../helpers/raw-client';
import type { ConformanceTransport } from './transport';

/** What a judge needs of the client's end of a connection, whatever carries it. */
export interface ClientEnd {
  /** When false (the default), the client ends its side once the server has ended its own. */
  allowHalfOpen: boolean;
  readonly writableEnded: boolean;
  /** Stops reading: what the server sends waits (in the kernel, or in flow control). */
  pause(): unknown;
  /** Bytes written since the handshake (TCP: since the connection opened). */
  readonly bytesWritten: number;
}

/** A raw client whose handshake is done, over TCP or an HTTP/2 stream. */
export interface JudgedClient extends RawPeer {
  socket: ClientEnd;
  /** The handshake's answer: status line and headers, one per line. */
  response: string;
}

/** The server's end of a judged connection: the bytes it read and wrote, and its close. */
export interface ServerEnd extends NodeJS.EventEmitter {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly closed: boolean;
}

/**
 * The server's end of an HTTP/2 stream. Bytes are counted where they enter the stream (`push`)
 * and leave it (`write`), so counting adds no reader that would set the stream flowing before
 * the connection takes it; `'data'` is emitted here after each count.
 */
class StreamEnd extends EventEmitter implements ServerEnd {
  bytesRead = 0;
  bytesWritten = 0;
  /** Whether the stream's `'close'` has been emitted. */
  closed = false;

  constructor(stream: ServerHttp2Stream) {
    super();
    const push = stream.push.bind(stream);
    stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
      const pushed = push(chunk, encoding);
      if (Buffer.isBuffer(chunk)) {
        this.bytesRead += chunk.length;
        this.emit('data', chunk);
      }
      return pushed;
    };
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: Buffer, ...rest: unknown[]) => {
      this.bytesWritten += chunk.length;
      return write(chunk, ...rest);
    }) as ServerHttp2Stream['write'];
    stream.once('close', () => {
      this.closed = true;
      this.emit('close');
    });
  }
}

/** The server-side ends of every stream of `server`, by {@link streamKey}. */
export function watchServerStreams(server: Http2SecureServer): Map<string, StreamEnd> {
  const ends = new Map<string, StreamEnd>();
  server.on('stream', (stream: ServerHttp2Stream) => {
    const key = streamKey(stream.session?.socket.remotePort, stream.id);
    ends.set(key, new StreamEnd(stream));
    stream.once('close', () => ends.delete(key));
  });
  return ends;
}

/** A stream's key on both ends: the client's TCP port and the stream's id. */
export function streamKey(clientPort: number | undefined, id: number | undefined): string {
  return `${clientPort ?? 0}:${id ?? 0}`;
}

/** The client's end of an HTTP/2 stream, with TCP's habits. */
class StreamClientEnd implements ClientEnd {
  allowHalfOpen = false;
  bytesWritten = 0;
  readonly #stream: ClientHttp2Stream;

  constructor(stream: ClientHttp2Stream) {
    this.#stream = stream;
    stream.once('end', () => {
      if (!this.allowHalfOpen && !stream.writableEnded) stream.end();
    });
  }

  get writableEnded(): boolean {
    return this.#stream.writableEnded;
  }

  pause(): void {
    this.#stream.pause();
  }

  count(bytes: number): void {
    this.bytesWritten += bytes;
  }
}

/** A judged client on an HTTP/2 stream and the key of its stream on the server. */
export interface Http2Client {
  client: JudgedClient;
  key: string;
}

/**
 * Opens a WebSocket stream to `localhost:<port>` at `path` with the client `transport` names,
 * each on a session of its own (closed when the client is destroyed), and wraps it as a
 * {@link JudgedClient}. Rejects when the server answers anything but 200.
 */
export async function openHttp2Client(
  transport: Exclude<ConformanceTransport, 'http/1.1'>,
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<Http2Client> {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const { stream, answer, session } =
    transport === 'h2' ? await byHand(port, path, lower) : await byOurClient(port, path, lower);
  const end = new StreamClientEnd(stream);
  const peer = rawPeer(stream);
  const lines = [`HTTP/2 ${String(answer[':status'])}`];
  for (const [name, value] of Object.entries(answer)) {
    if (!name.startsWith(':')) lines.push(`${name}: ${String(value)}`);
  }
  const client: JudgedClient = {
    ...peer,
    send(bytes) {
      end.count(Array.isArray(bytes) ? bytes.reduce((n, b) => n + b.length, 0) : bytes.length);
      peer.send(bytes);
    },
    destroy() {
      stream.destroy();
      session?.destroy();
    },
    socket: end,
    response: lines.join('\r\n'),
  };
  return { client, key: streamKey(stream.session?.socket.localPort, stream.id) };
}

interface Opened {
  stream: ClientHttp2Stream;
  answer: Record<string, unknown>;
  /** The session to destroy with the client, when the client owns it. */
  session: ClientHttp2Session | undefined;
}

// The client written in the tests: Node's http2.connect, pseudo-headers set by hand.
async function byHand(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<Opened> {
  const session = await connectH2(port);
  const {
    stream,
    status,
    headers: answer,
  } = await extendedConnect(session, `localhost:${port}`, path, headers);
  if (status !== 200) {
    session.destroy();
    throw new Error(`handshake refused: ${status}`);
  }
  return { stream, answer, session };
}

// Our client: a session pool of its own, so that each judged connection has its own session;
// the pool closes the session once the stream has closed.
async function byOurClient(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<Opened> {
  const attempt: DialAttempt = {
    failed: false,
    track: (stream) => stream,
    untrack: () => {},
    race: (promise) => promise,
    answered: () => 2000,
  };
  const open = async (alpn: string[]): Promise<Duplex> => {
    const socket = tlsConnect({
      host: 'localhost',
      port,
      ca: testCertificates().ca,
      ALPNProtocols: alpn,
    });
    await once(socket, 'secureConnect');
    return socket;
  };
  const route = await new Http2Sessions().dial(
    new URL(`wss://localhost:${port}${path}`),
    { authority: `localhost:${port}`, path, offers: [], headers: Object.entries(headers) },
    attempt,
    open,
  );
  if (!('stream' in route)) throw new Error('the server did not offer RFC 8441');
  const answer: Record<string, unknown> = {
    ':status': route.response.status,
    ...route.response.headers,
  };
  return { stream: route.stream, answer, session: undefined };
}
