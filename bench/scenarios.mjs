// What the benchmark measures: the servers it compares and the scenarios it runs against each.

/**
 * @typedef {object} ServerSpec
 * @property {string} label - the name printed in tables.
 * @property {string} script - the server's script, relative to bench/.
 * @property {Record<string, string>} env - environment for its process.
 * @property {Record<string, boolean>} [expect] - facts the server must report (see ws.mjs).
 */

/** @type {Record<string, ServerSpec>} */
export const SERVERS = {
  raw: { label: 'raw net', script: 'servers/raw.mjs', env: {} },
  ws: {
    label: 'ws',
    script: 'servers/ws.mjs',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    expect: { bufferutil: false },
  },
  'ws-addons': {
    label: 'ws+addons',
    script: 'servers/ws.mjs',
    env: {},
    expect: { bufferutil: true },
  },
  ours: { label: 'silverback', script: 'servers/ours.mjs', env: {} },
};

/**
 * @typedef {object} Scenario
 * @property {string} title
 * @property {'msgs' | 'MB'} unit - the headline figure: messages or megabytes (10^6 bytes of
 *   message payload) echoed per second.
 * @property {number} size - payload bytes per message (with `smallPerLarge`, of the large ones).
 * @property {number} [smallSize] - payload bytes of the small messages of a mix.
 * @property {number} [smallPerLarge] - a mix: each `size` message is followed by this many of
 *   `smallSize` (0 or absent: every message is `size` bytes).
 * @property {'text' | 'binary'} type
 * @property {number} connections
 * @property {number} window - messages in flight per connection.
 * @property {boolean} deflate
 * @property {boolean} [serverStats] - the servers measure themselves while loaded: event-loop
 *   delay and peak memory (see servers/load-monitor.mjs).
 * @property {string[]} servers - keys of SERVERS, in table order.
 */

/** The zlib level and threshold both servers compress with in the `deflate` scenario. */
export const DEFLATE = { level: 1, threshold: 1024 };

/** @type {Record<string, Scenario>} */
export const SCENARIOS = {
  small: {
    title: 'small-message echo',
    unit: 'msgs',
    size: 32,
    type: 'text',
    connections: 64,
    window: 16,
    deflate: false,
    servers: ['raw', 'ws', 'ws-addons', 'ours'],
  },
  large: {
    title: '16 MiB echo',
    unit: 'MB',
    size: 16 * 1024 * 1024,
    type: 'binary',
    connections: 2,
    window: 1,
    deflate: false,
    servers: ['raw', 'ws', 'ws-addons', 'ours'],
  },
  deflate: {
    title: 'permessage-deflate echo',
    unit: 'msgs',
    size: 4096,
    type: 'text',
    connections: 32,
    window: 4,
    deflate: true,
    servers: ['ws', 'ours'],
  },
  'deflate-many': {
    title: 'permessage-deflate, many connections',
    unit: 'MB',
    // Above the 64 KiB that silverback compresses on the spot, so every large message is
    // inflated and deflated on the thread pool; the small ones stay on the event loop.
    size: 128 * 1024,
    smallSize: 2048,
    smallPerLarge: 3,
    type: 'text',
    connections: 1000,
    window: 2,
    deflate: true,
    serverStats: true,
    servers: ['ws', 'ours'],
  },
};
