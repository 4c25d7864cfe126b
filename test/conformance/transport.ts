/**
 * What the conformance suites run over. By default, TCP with RFC 6455's HTTP/1.1 handshake. The
 * files under `test/h2/conformance` switch to HTTP/2 (RFC 8441) with {@link runOver} and then load
 * a suite file, so the very same cases judge our server and our Dialer over HTTP/2 streams. Jest
 * gives each test file its own module registry, so a switch holds for its file only.
 */

/** A transport the suites can run over. */
export type ConformanceTransport =
  /** TCP, with the HTTP/1.1 handshake. */
  | 'http/1.1'
  /**
   * HTTP/2 streams: the server suite's streams are opened by a client written in the tests from
   * Node's `http2.connect`; the client suite's Dialer runs with `http2: true`.
   */
  | 'h2'
  /** HTTP/2 streams the server suite opens with our own RFC 8441 client (the Dialer's pool). */
  | 'h2-dialer';

let current: ConformanceTransport = 'http/1.1';

/** Makes the suites loaded after this call in the current test file run over `transport`. */
export function runOver(transport: ConformanceTransport): void {
  current = transport;
}

/** The transport of the current test file. */
export function transport(): ConformanceTransport {
  return current;
}

/** Whether the current test file runs over HTTP/2. */
export function overHttp2(): boolean {
  return current !== 'http/1.1';
}
