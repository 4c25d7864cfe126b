/**
 * A peer program run as a child process that reports on stdout in JSON lines, so tests wait for
 * what it says it did instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One line of a peer's report. */
export interface PeerEvent {
  /** `listening`, `open`, `pong`, `close` or `error`. */
  event: string;
  /** The peer's number for the connection the event is about; absent for process-wide events. */
  conn?: number;
  [field: string]: unknown;
}

interface Waiter {
  event: string;
  conn: number | undefined;
  resolve(event: PeerEvent): void;
  reject(err: Error): void;
}

/** A running peer program. */
export class PeerProcess {
  readonly #name: string;
  readonly #child: ChildProcess;
  readonly #events: PeerEvent[] = []; // reported and not yet taken by next()
  readonly #waiters: Waiter[] = [];
  #stderr = '';
  #exitError: Error | null = null;
  /** Resolves with the exit code (`null` when a signal ended it) once the process has exited. */
  readonly exited: Promise<number | null>;

  /**
   * Starts `command` with `args`.
   *
   * @param name - how errors name the peer.
   */
  constructor(name: string, command: string, args: string[]) {
    this.#name = name;
    this.#child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-4000);
    });
    const lines = createInterface({ input: this.#child.stdout! });
    lines.on('line', (line) => this.#onLine(line));
    const stdoutDone = new Promise<void>((resolve) => lines.once('close', resolve));
    const exit = new Promise<number | null>((resolve, reject) => {
      this.#child.once('error', reject);
      this.#child.once('exit', (code) => resolve(code));
    });
    // Report the exit only after every line it printed was read.
    this.exited = Promise.all([exit, stdoutDone]).then(
      ([code]) => {
        this.#failWaiters(new Error(`${this.#describe()} exited with code ${code}`));
        return code;
      },
      (err: Error) => {
        this.#failWaiters(err);
        return null;
      },
    );
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Resolves with the first unread report of `event` (about connection `conn`, if given).
   * Rejects when the peer reports an error about that connection (or about no connection), or
   * exits first.
   */
  next(event: string, conn?: number): Promise<PeerEvent> {
    const found = this.#events.findIndex((e) => this.#matches(e, event, conn));
    if (found >= 0) {
      const [e] = this.#events.splice(found, 1);
      return e!.event === 'error' && event !== 'error'
        ? Promise.reject(this.#errorFrom(e!))
        : Promise.resolve(e!);
    }
    if (this.#exitError !== null) return Promise.reject(this.#exitError);
    return new Promise((resolve, reject) => this.#waiters.push({ event, conn, resolve, reject }));
  }

  /** Kills the process by its id, unless it has exited, and waits for it to exit. */
  async stop(): Promise<void> {
    if (
      this.#child.exitCode === null &&
      this.#child.signalCode === null &&
      this.pid !== undefined
    ) {
      process.kill(this.pid, 'SIGTERM');
    }
    await this.exited;
  }

  #matches(e: PeerEvent, event: string, conn: number | undefined): boolean {
    const sameConn = conn === undefined || e.conn === undefined || e.conn === conn;
    if (e.event === 'error') return sameConn && (conn !== undefined || e.conn === undefined);
    return e.event === event && (conn === undefined || e.conn === conn);
  }

  #onLine(line: string): void {
    let e: PeerEvent;
    try {
      e = JSON.parse(line) as PeerEvent;
    } catch {
      e = { event: 'error', message: `unparsable report: ${line}` };
    }
    const i = this.#waiters.findIndex((w) => this.#matches(e, w.event, w.conn));
    if (i < 0) {
      this.#events.push(e);
      return;
    }
    const [w] = this.#waiters.splice(i, 1);
    if (e.event === 'error' && w!.event !== 'error') w!.reject(this.#errorFrom(e));
    else w!.resolve(e);
  }

  #errorFrom(e: PeerEvent): Error {
    return new Error(`${this.#describe()} reported: ${JSON.stringify(e)}`);
  }

  #failWaiters(err: Error): void {
    this.#exitError = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  #describe(): string {
    const stderr = this.#stderr.trim();
    return `${this.#name} (pid ${this.pid})${stderr === '' ? '' : ` [stderr: ${stderr}]`}`;
  }
}
