/**
 * The real peers of the interop suite: the `ws` npm package, Python's `websockets` (Debian's
 * python3-websockets, run with /usr/bin/python3) and gorilla/websocket (Debian's
 * golang-github-gorilla-websocket-dev, built offline with Debian's Go). Each is an echo program
 * under `peers/` that runs as a server or a client and speaks the same little protocol (see the
 * programs' own comments).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PeerProcess } from './peer-process';

const PEERS_DIR = join(__dirname, 'peers');
const GOPATH = '/usr/share/gocode';
const GORILLA_DIR = join(GOPATH, 'src/github.com/gorilla/websocket');

/** Generous enough for a cold Go build on a busy 2-core machine. */
export const PREPARE_TIMEOUT = 120_000;

/** One peer library. */
export interface Peer {
  /** Shown in test names. */
  name: string;
  /** Gets the program ready (builds it if it must be built); call it in `beforeAll`. */
  prepare(): Promise<void>;
  /** The program and arguments for a server, or a client of `url`. */
  command(mode: 'server' | 'client', compress: boolean, url?: string): [string, string[]];
}

function peerArgs(mode: 'server' | 'client', compress: boolean, url?: string): string[] {
  return [mode, ...(url === undefined ? [] : [url]), ...(compress ? ['--compress'] : [])];
}

const wsPeer: Peer = {
  name: 'ws',
  prepare: () => Promise.resolve(),
  command: (mode, compress, url) => [
    process.execPath,
    [join(PEERS_DIR, 'ws-peer.mjs'), ...peerArgs(mode, compress, url)],
  ],
};

const pythonPeer: Peer = {
  name: 'python websockets',
  prepare: () => Promise.resolve(),
  // -I: Debian's interpreter and packages only, whatever PYTHON* variables or user site say.
  command: (mode, compress, url) => [
    '/usr/bin/python3',
    ['-I', join(PEERS_DIR, 'websockets-peer.py'), ...peerArgs(mode, compress, url)],
  ],
};

let gorillaBinary: Promise<string> | undefined;

const gorillaPeer: Peer = {
  name: 'gorilla',
  async prepare() {
    gorillaBinary ??= buildGorillaPeer();
    await gorillaBinary;
  },
  command(mode, compress, url) {
    const binary = join(tmpdir(), 'silverback-interop', gorillaBinaryName());
    // Go's flag package reads flags before positional arguments.
    return [
      binary,
      [mode, ...(compress ? ['-compress'] : []), ...(url === undefined ? [] : [url])],
    ];
  },
};

/** Every peer, in the order the matrix lists them. */
export const PEERS: readonly Peer[] = [wsPeer, pythonPeer, gorillaPeer];

// The binary is named by a hash of its source and of gorilla's files, so an unchanged peer is
// built once per machine and a changed one (or a gorilla upgrade) is rebuilt.
let binaryName: string | undefined;
function gorillaBinaryName(): string {
  if (binaryName !== undefined) return binaryName;
  const hash = createHash('sha256').update(readFileSync(join(PEERS_DIR, 'gorilla-peer.go')));
  for (const file of readdirSync(GORILLA_DIR).sort()) {
    const stat = statSync(join(GORILLA_DIR, file));
    hash.update(`${file}:${stat.size}:${stat.mtimeMs}\n`);
  }
  binaryName = `gorilla-peer-${hash.digest('hex').slice(0, 16)}`;
  return binaryName;
}

async function buildGorillaPeer(): Promise<string> {
  const dir = join(tmpdir(), 'silverback-interop');
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, gorillaBinaryName());
  if (existsSync(binary)) return binary;
  // Build beside the final name and rename: test files building at once never see half a binary.
  const partial = `${binary}.${process.pid}.partial`;
  try {
    await promisify(execFile)('go', ['build', '-o', partial, 'gorilla-peer.go'], {
      cwd: PEERS_DIR,
      env: {
        ...process.env,
        GOPATH,
        GO111MODULE: 'off',
        GOFLAGS: '',
        GOCACHE: join(dir, 'go-build-cache'),
      },
    });
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`building the gorilla peer failed: ${stderr ?? String(err)}`, { cause: err });
  }
  renameSync(partial, binary);
  return binary;
}

/** Starts `peer` as a client of `url`. */
export function startClient(peer: Peer, url: string, compress: boolean): PeerProcess {
  const [command, args] = peer.command('client', compress, url);
  return new PeerProcess(`${peer.name} client`, command, args);
}

/** Starts `peer` as a server and resolves once it listens, with its port. */
export async function startPeerServer(
  peer: Peer,
  compress: boolean,
): Promise<{ process: PeerProcess; port: number }> {
  const [command, args] = peer.command('server', compress);
  const server = new PeerProcess(`${peer.name} server`, command, args);
  try {
    const { port } = await server.next('listening');
    return { process: server, port: port as number };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
