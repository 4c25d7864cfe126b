/**
 * Watching one file: its current content, and an event each time it changes (the polling part of
 * gorilla's `examples/filewatch`).
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { unwatchFile, watchFile, type BigIntStats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { PreparedMessage, TextMessage } from '@silverback/websocket';

/** The file as it was read once. */
export interface Snapshot {
  /** Its modification time in nanoseconds since the epoch; `0n` when it could not be read. */
  lastMod: bigint;
  /** Its content as text (invalid UTF-8 replaced), or the error met reading it. */
  text: string;
  /** Whether `text` is an error message rather than the content. */
  error: boolean;
  /** `text` as a message ready to send to any number of connections. */
  message: PreparedMessage;
}

/** The events a {@link FileWatcher} emits. */
export interface FileWatcherEvents {
  /** The file changed (or vanished, or came back); the snapshot says how it is now. */
  change: [snapshot: Snapshot];
}

/**
 * FileWatcher polls a file and emits `change` with a new {@link Snapshot} when its modification
 * time changes, or once when reading it starts or stops failing.
 *
 * It polls (`fs.watchFile`) rather than subscribing to file-system events (`fs.watch`) because
 * editors often save by writing a new file and renaming it over the old one, which an event
 * subscription on the old file never reports; gorilla's example polls for the same reason.
 */
export class FileWatcher extends EventEmitter<FileWatcherEvents> {
  /** The file watched. */
  readonly file: string;
  readonly #interval: number;
  #last: Snapshot | null = null;
  #reading: Promise<void> = Promise.resolve();
  readonly #listener = (current: BigIntStats, previous: BigIntStats): void => {
    // File times tick with the kernel's coarse clock, so a rewrite within the same tick shows
    // only in the size.
    const same =
      current.mtimeNs === previous.mtimeNs &&
      current.ino === previous.ino &&
      current.size === previous.size;
    if (same) return;
    // Reads run one after another, so the last event carries the newest content.
    this.#reading = this.#reading.then(() => this.#poll());
  };

  /**
   * @param file - the file to watch.
   * @param interval - how often to look at it, in milliseconds.
   */
  constructor(file: string, interval: number) {
    super();
    this.file = file;
    this.#interval = interval;
  }

  /** Starts polling. */
  start(): void {
    watchFile(this.file, { bigint: true, interval: this.#interval }, this.#listener);
  }

  /** Stops polling and resolves once a read in progress has finished. */
  async stop(): Promise<void> {
    unwatchFile(this.file, this.#listener);
    await this.#reading;
  }

  /** Reads the file now. Never rejects: a failure becomes an error snapshot. */
  snapshot(): Promise<Snapshot> {
    return readSnapshot(this.file);
  }

  async #poll(): Promise<void> {
    const snapshot = await readSnapshot(this.file);
    const last = this.#last;
    this.#last = snapshot;
    // The same error again is no news (gorilla's lastError); new content always is.
    if (snapshot.error && last?.error && last.text === snapshot.text) return;
    this.emit('change', snapshot);
  }
}

/** Reads `file` and its modification time into a {@link Snapshot}. Never rejects. */
export async function readSnapshot(file: string): Promise<Snapshot> {
  let lastMod: bigint;
  let text: string;
  let error = false;
  try {
    // The time comes first: should the file change between the two calls, the content is the
    // newer one and the next poll sends it again, rather than the change being missed.
    lastMod = (await stat(file, { bigint: true })).mtimeNs;
    text = (await readFile(file)).toString('utf8');
  } catch (err) {
    lastMod = 0n;
    text = (err as Error).message;
    error = true;
  }
  return { lastMod, text, error, message: new PreparedMessage(TextMessage, text) };
}
