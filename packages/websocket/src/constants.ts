/**
 * Protocol constants: message types, close codes and the limits RFC 6455 fixes.
 *
 * @module
 */

// Message types, RFC 6455 section 11.8 (opcodes).

/** TextMessage denotes a text data message: the payload is UTF-8 encoded text. Gorilla: `TextMessage`. */
export const TextMessage = 1;
/** BinaryMessage denotes a binary data message. Gorilla: `BinaryMessage`. */
export const BinaryMessage = 2;
/**
 * CloseMessage denotes a close control message. The optional payload holds a two-byte close code
 * and a UTF-8 reason; build it with {@link formatCloseMessage}. Gorilla: `CloseMessage`.
 */
export const CloseMessage = 8;
/** PingMessage denotes a ping control message; the payload is at most 125 bytes. Gorilla: `PingMessage`. */
export const PingMessage = 9;
/** PongMessage denotes a pong control message; the payload is at most 125 bytes. Gorilla: `PongMessage`. */
export const PongMessage = 10;

/** The type of a WebSocket message: one of the five message constants. */
export type MessageType =
  | typeof TextMessage
  | typeof BinaryMessage
  | typeof CloseMessage
  | typeof PingMessage
  | typeof PongMessage;

/** The type of a data message: text or binary. */
export type DataMessageType = typeof TextMessage | typeof BinaryMessage;

/** The type of a control message: close, ping or pong. */
export type ControlMessageType = typeof CloseMessage | typeof PingMessage | typeof PongMessage;

// Close codes, RFC 6455 section 11.7.

/** 1000: the purpose for which the connection was established has been fulfilled. */
export const CloseNormalClosure = 1000;
/** 1001: an endpoint is going away, such as a server going down or a browser leaving a page. */
export const CloseGoingAway = 1001;
/** 1002: an endpoint is terminating the connection due to a protocol error. */
export const CloseProtocolError = 1002;
/** 1003: an endpoint received a type of data it cannot accept. */
export const CloseUnsupportedData = 1003;
/** 1005: no status code was present in the close frame. Never sent on the wire. */
export const CloseNoStatusReceived = 1005;
/** 1006: the connection closed without a close frame. Never sent on the wire. */
export const CloseAbnormalClosure = 1006;
/** 1007: a message's data was not consistent with its type (invalid UTF-8 in a text message). */
export const CloseInvalidFramePayloadData = 1007;
/** 1008: a message violates the endpoint's policy. */
export const ClosePolicyViolation = 1008;
/** 1009: a message is too big to process. */
export const CloseMessageTooBig = 1009;
/** 1010: the client expected the server to negotiate an extension it did not. */
export const CloseMandatoryExtension = 1010;
/** 1011: the server met an unexpected condition that prevented it from fulfilling the request. */
export const CloseInternalServerErr = 1011;
/** 1012: the server is restarting. */
export const CloseServiceRestart = 1012;
/** 1013: the server is overloaded; the client should try again later. */
export const CloseTryAgainLater = 1013;
/** 1015: the TLS handshake failed. Never sent on the wire. */
export const CloseTLSHandshake = 1015;

/** The GUID that RFC 6455 section 1.3 appends to the client's key to compute the accept key. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Control frames carry at most 125 payload bytes (RFC 6455 section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** The default read limit: 64 MiB per message, counted after decompression. */
export const DEFAULT_READ_LIMIT = 64 * 1024 * 1024;

/**
 * The most frames one data message may span before the connection fails with 1008. Autobahn's
 * largest case (4 MiB in 64-byte fragments) needs 65,536.
 */
export const MAX_MESSAGE_FRAGMENTS = 1 << 17;

/** The default amount of unread message data a connection buffers before it stops reading. */
export const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;

/** The default size of the buffer that gathers the small frames written in one tick. */
export const DEFAULT_WRITE_BUFFER_SIZE = 16 * 1024;

/** How long the default ping and close handlers wait to write their answer (gorilla: one second). */
export const CONTROL_WRITE_WAIT = 1000;

/** How long a closed connection waits for the peer to end TCP before destroying the socket. */
export const CLOSE_TCP_TIMEOUT = 1000;

/** The server's default handshake timeout. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The opcode of a continuation frame (RFC 6455 section 5.2). */
export const OPCODE_CONTINUATION = 0;
