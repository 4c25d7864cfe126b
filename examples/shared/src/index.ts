/**
 * The plumbing the silverback examples share, so that each example's own files hold its
 * WebSocket part: {@link createPageServer} and {@link listen} for the plain examples' HTTP side,
 * {@link runExample} and {@link envAddress} for their `main.ts`.
 *
 * @module
 */
export { createPageServer, pathOf, type PageServerOptions } from './page-server.js';
export { listen, type ListenOptions, type Listening } from './listen.js';
export { envAddress, runExample, type ExampleAddress } from './run-example.js';
