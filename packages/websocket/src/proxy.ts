/**
 * Dialing through an HTTP proxy with CONNECT (RFC 9110 section 9.3.6), and choosing the proxy from
 * the environment as Go's `http.ProxyFromEnvironment` does. Gorilla: `proxy.go`.
 *
 * @module
 */

import { BlockList, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { HandshakeError } from './errors.js';
import { readResponseBody, readResponseHead, type HeadResult } from './http-response.js';

/**
 * Where a {@link Dialer} sends its connections: an `http:` proxy URL (credentials in its user
 * info are sent as `Proxy-Authorization: Basic`), or a function that picks one for each WebSocket
 * URL, returning `undefined` to connect directly. Gorilla: `Dialer.Proxy`.
 */
export type ProxyOption = string | URL | ((url: URL) => string | URL | undefined);

/** The most of a refusal's body kept for the application. */
const BODY_LIMIT = 64 * 1024;

/**
 * Returns the proxy to use for `url` under `option`, or `undefined` for a direct connection.
 *
 * @throws {TypeError} when the proxy is not an `http:` URL.
 * @internal
 */
export function resolveProxy(option: ProxyOption | undefined, url: URL): URL | undefined {
  const chosen = typeof option === 'function' ? option(new URL(url.href)) : option;
  if (chosen === undefined || chosen === '') return undefined;
  let proxy: URL;
  try {
    proxy = new URL(chosen);
  } catch {
    throw new TypeError(`websocket: invalid proxy URL ${JSON.stringify(String(chosen))}`);
  }
  if (proxy.protocol !== 'http:') {
    throw new TypeError(
      `websocket: unsupported proxy scheme '${proxy.protocol}' (only http: CONNECT proxies are)`,
    );
  }
  return proxy;
}

/** The host and port of a URL, with the scheme's default port, as `net.connect` wants them. */
export function hostAndPort(url: URL): { host: string; port: number } {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const defaultPort = url.protocol === 'wss:' || url.protocol === 'https:' ? 443 : 80;
  return { host, port: url.port === '' ? defaultPort : Number(url.port) };
}

/** Returns the `Proxy-Authorization` value for a proxy URL's user info, if it has any. */
function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const user = decodeURIComponent(proxy.username);
  const password = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * Asks the proxy at the other end of `stream` for a tunnel to `authority` (`host:port`) and
 * resolves once the tunnel is open; the stream then carries the tunnel, paused, with any bytes
 * the proxy sent early put back. Gorilla: `httpProxyDialer.Dial`.
 *
 * @param bodyTimeout - called when the proxy refuses; returns how long to wait for the body.
 * @throws {HandshakeError} when the proxy answers other than 2xx (`status` and `response` are the
 *   proxy's: 407 when it wants credentials), or its answer is not HTTP (`status` 0).
 * @internal
 */
export function connectThroughProxy(
  stream: Duplex,
  proxy: URL,
  authority: string,
  bodyTimeout: () => number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onHead = ({ head, rest }: HeadResult): void => {
      if (head.status >= 200 && head.status < 300) {
        stream.pause();
        if (rest.length > 0) stream.unshift(rest);
        resolve();
        return;
      }
      void readResponseBody(stream, head, rest, BODY_LIMIT, bodyTimeout()).then((body) => {
        const { status, statusText, headers } = head;
        reject(
          new HandshakeError(
            `proxy refused CONNECT to ${authority}: ${status} ${statusText}`.trimEnd(),
            status,
            { status, statusText, headers, body },
          ),
        );
      });
    };
    readResponseHead(stream, onHead, reject);
    const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
    const credentials = proxyAuthorization(proxy);
    if (credentials !== undefined) lines.push(`Proxy-Authorization: ${credentials}`);
    stream.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name.toUpperCase()] ?? env[name.toLowerCase()];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return host.startsWith('127.');
  if (family === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** Whether `NO_PROXY` (a comma-separated list) exempts `host` on `port`. */
function exempted(noProxy: string, host: string, port: number): boolean {
  const hostLower = host.toLowerCase();
  for (const raw of noProxy.split(',')) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      // A CIDR block matches IP literals only.
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '');
      const prefix = Number(bits);
      if (family === 0 || isIP(host) === 0 || !Number.isInteger(prefix)) continue;
      const list = new BlockList();
      try {
        list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6');
      } catch {
        continue;
      }
      if (list.check(host, isIP(host) === 4 ? 'ipv4' : 'ipv6')) return true;
      continue;
    }
    // An entry may name a port: "example.com:8080", "[::1]:8080".
    let entryPort: number | undefined;
    const bracket = entry.startsWith('[') ? entry.indexOf(']') : -1;
    const colon = entry.lastIndexOf(':');
    if (bracket > 0) {
      if (entry[bracket + 1] === ':') entryPort = Number(entry.slice(bracket + 2));
      entry = entry.slice(1, bracket);
    } else if (colon > 0 && entry.indexOf(':') === colon) {
      entryPort = Number(entry.slice(colon + 1));
      entry = entry.slice(0, colon);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      // ".example.com" matches the subdomains of example.com only.
      if (hostLower.endsWith(entry)) return true;
    } else if (hostLower === entry || hostLower.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}

/**
 * Chooses a proxy for a WebSocket URL from the environment, for the `proxy` option of a
 * {@link Dialer}: `HTTPS_PROXY` for `wss:` URLs and `HTTP_PROXY` for `ws:` URLs (or their
 * lower-case forms), unless `NO_PROXY` exempts the host. Gorilla's `DefaultDialer` uses Go's
 * `http.ProxyFromEnvironment`; this follows its rules:
 * - a proxy value without a scheme means `http://`;
 * - `NO_PROXY` is a comma-separated list of host names (matching the host and its subdomains;
 *   a leading `.` or `*.` matches subdomains only), IP addresses, CIDR blocks, each optionally
 *   with `:port`, or `*` for every host;
 * - `localhost` and loopback addresses are never proxied;
 * - `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI environment, where it could come
 *   from the request's `Proxy:` header).
 *
 * @param url - the WebSocket URL being dialed.
 * @param env - the environment to read (default `process.env`, read at each call).
 * @returns the proxy URL, or `undefined` for a direct connection.
 *
 * @example
 * const dialer = new Dialer({ proxy: proxyFromEnvironment });
 */
export function proxyFromEnvironment(
  url: URL,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  let proxy = secure ? envValue(env, 'https_proxy') : envValue(env, 'http_proxy');
  if (!secure && env.REQUEST_METHOD !== undefined) proxy = undefined;
  if (proxy === undefined) return undefined;
  const { host, port } = hostAndPort(url);
  if (isLoopback(host)) return undefined;
  const noProxy = envValue(env, 'no_proxy');
  if (noProxy !== undefined && exempted(noProxy, host, port)) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}
