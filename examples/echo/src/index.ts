/**
 * The echo example: {@link startEcho} serves the page and the echo endpoint.
 *
 * @module
 */
export { startEcho, echoPagePath, type EchoOptions, type EchoServer } from './server.js';
