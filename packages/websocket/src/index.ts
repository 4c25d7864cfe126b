/**
 * Package websocket implements the WebSocket protocol defined in RFC 6455, with the
 * permessage-deflate extension of RFC 7692, for Node.js: gorilla/websocket's API in TypeScript.
 *
 * ## Overview
 *
 * A {@link Conn} is a WebSocket connection. A server gets one from an {@link Upgrader} in its
 * HTTP server's `'upgrade'` handler:
 *
 * ```ts
 * const upgrader = new Upgrader();
 * server.on('upgrade', (req, socket, head) => {
 *   upgrader.upgrade(req, socket, head).then(
 *     (conn) => {
 *       // use conn to send and receive messages
 *     },
 *     () => {}, // refused: the upgrader answered the HTTP error (400, 403...) and closed the socket
 *   );
 * });
 * ```
 *
 * `readMessage` and `writeMessage` receive and send whole messages. This echoes every message:
 *
 * ```ts
 * for (;;) {
 *   const { type, data } = await conn.readMessage();
 *   await conn.writeMessage(type, data);
 * }
 * ```
 *
 * `nextReader` and `nextWriter` stream a message instead, as Node streams:
 *
 * ```ts
 * for (;;) {
 *   const { type, reader } = await conn.nextReader();
 *   const writer = await conn.nextWriter(type);
 *   await pipeline(reader, writer);
 * }
 * ```
 *
 * A client gets a `Conn` from a {@link Dialer}: `const { conn } = await dial('ws://host/path')`.
 *
 * ## Data messages
 *
 * Text messages ({@link TextMessage}) are UTF-8 text, checked on arrival; binary messages
 * ({@link BinaryMessage}) are left to the application. Sending valid UTF-8 in text messages is the
 * application's responsibility.
 *
 * ## Control messages
 *
 * Close, ping and pong are sent with `writeControl` (or `writeMessage`). Received pings and pongs
 * go to the handlers set with `setPingHandler` and `setPongHandler`; a received close frame to the
 * close handler, and reads then fail with a {@link CloseError}.
 *
 * ## Concurrency
 *
 * Writes may be called concurrently: they go out in call order (gorilla panics instead). Control
 * frames may be sent while a message is being streamed by `nextWriter`. Reads are served in call
 * order too, though one reader at a time is the natural shape.
 *
 * ## Read is required
 *
 * The connection handles control frames as it reads them, and it reads from the socket only while
 * the application keeps up with the messages. An application that is not interested in the
 * messages must still read them, to answer pings and see the close frame:
 *
 * ```ts
 * (async () => { for await (const _ of conn); })();
 * ```
 *
 * ## Origin considerations
 *
 * Browsers let any page open a WebSocket to any host; the server must enforce an origin policy.
 * The Upgrader calls `checkOrigin`; when it returns false the handshake fails with 403. By default
 * a request whose `Origin` header's host differs from its `Host` header is refused.
 * `checkOrigin: () => true` allows every origin.
 *
 * ## Buffers
 *
 * Frames written in one tick, or while the socket is still busy with earlier ones, are gathered
 * into batch buffers (from 1 KiB up to `writeBufferSize`) and sent in one socket write, so queued
 * frames take little more memory than their bytes. A {@link BufferPool} supplies the full-size
 * batch buffers. Idle connections hold no write buffer.
 *
 * ## Compression
 *
 * Set `enableCompression` on the Upgrader or Dialer to negotiate permessage-deflate.
 * `enableWriteCompression` and `setCompressionLevel` adjust it per connection.
 *
 * ## HTTP/2
 *
 * RFC 8441 carries a WebSocket on one stream of an HTTP/2 connection: the client sends an
 * extended CONNECT (`:protocol websocket`) instead of an upgrade, the server answers 200 instead
 * of 101, and the frames run on the stream. A server must advertise it
 * (`http2.createSecureServer({ settings: { enableConnectProtocol: true } })`), then upgrade in its
 * `'connect'` handler (`upgrader.upgrade(req, res)`) or its `'stream'` handler
 * (`upgrader.upgradeStream(stream, headers)`); the {@link Conn} is the same. A {@link Dialer}
 * with `http2: true` opens `wss:` WebSockets as streams of one session per origin, and falls back
 * to HTTP/1.1 where the server does not offer it. Closing a connection ends its stream, never the
 * session; the stream's flow control is its backpressure.
 *
 * @packageDocumentation
 */

export {
  TextMessage,
  BinaryMessage,
  CloseMessage,
  PingMessage,
  PongMessage,
  CloseNormalClosure,
  CloseGoingAway,
  CloseProtocolError,
  CloseUnsupportedData,
  CloseNoStatusReceived,
  CloseAbnormalClosure,
  CloseInvalidFramePayloadData,
  ClosePolicyViolation,
  CloseMessageTooBig,
  CloseMandatoryExtension,
  CloseInternalServerErr,
  CloseServiceRestart,
  CloseTryAgainLater,
  CloseTLSHandshake,
  type MessageType,
  type DataMessageType,
  type ControlMessageType,
} from './constants.js';
export {
  WebSocketError,
  CloseError,
  HandshakeError,
  ProtocolError,
  ReadLimitError,
  CloseSentError,
  TimeoutError,
  BufferFullError,
  RateLimitError,
  isCloseError,
  isUnexpectedCloseError,
  type HandshakeResponse,
  type ProtocolErrorCode,
  type TimeoutErrorCode,
  type CloseErrorOptions,
} from './errors.js';
export {
  Conn,
  type Message,
  type MessageStream,
  type ControlHandler,
  type CloseHandler,
  type Deadline,
  type CloseStatus,
  type BufferLimitOptions,
} from './conn.js';
export {
  type KeepAliveOptions,
  type KeepAliveOption,
  DEFAULT_ADAPTER_KEEPALIVE,
} from './keepalive.js';
export {
  channels,
  type ConnectionOpenMessage,
  type ServerOpenMessage,
  type ClientOpenMessage,
  type ConnectionCloseMessage,
  type HandshakeRefusedMessage,
  type UpgradeTraceContext,
} from './diagnostics.js';
export { type MessageData } from './message-data.js';
export { formatCloseMessage } from './close.js';
export { PreparedMessage } from './prepared.js';
export { joinMessages } from './join.js';
export { type BufferPool, SimpleBufferPool } from './buffer-pool.js';
export { type CompressionOptions, type DeflateParams } from './compression.js';
export {
  Upgrader,
  isWebSocketUpgrade,
  subprotocols,
  checkSameOrigin,
  type UpgraderOptions,
  type UpgradeErrorHandler,
  type ResponseHeaders,
} from './server.js';
export { isWebSocketConnect, type UpgradeRequest } from './http2-server.js';
export {
  Dialer,
  defaultDialer,
  dial,
  type DialerOptions,
  type DialOptions,
  type DialResult,
  type RequestHeaders,
} from './client.js';
export { proxyFromEnvironment, type ProxyOption } from './proxy.js';
export { redial, type RedialOptions, type RetryInfo } from './redial.js';
