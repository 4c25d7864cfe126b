/**
 * One chat participant: the go-between of a WebSocket connection and the {@link Hub}
 * (gorilla's `examples/chat/client.go`).
 *
 * @module
 */

import {
  CloseGoingAway,
  CloseNoStatusReceived,
  CloseNormalClosure,
  ClosePolicyViolation,
  PingMessage,
  isCloseError,
  type Conn,
  type PreparedMessage,
} from '@silverback/websocket';
import type { ChatSettings } from './settings.js';

/** What a client needs from its hub. */
export interface ClientHub {
  /** Sends a message from this client to every client. */
  broadcast(message: string): void;
  /** Removes the client, which is leaving for `reason`; the hub stops it. */
  unregister(client: Client, reason: LeaveReason): void;
}

/** Why a client left the hub. */
export type LeaveReason =
  /** The peer closed the connection normally. */
  | 'closed'
  /** Its send queue was full: it could not keep up with the messages. */
  | 'slow'
  /** The hub was closed. */
  | 'shutdown'
  /** The connection failed: read or write deadline, read limit, protocol error, lost peer. */
  | 'error';

/**
 * Client pumps messages between one connection and the hub. Its read loop hands each message
 * the peer sends to {@link ClientHub.broadcast}; its write loop sends the messages queued by
 * {@link Client.send} and a ping every `pingPeriod`. The queue is bounded: when it is full the
 * hub drops the client instead of waiting for it, so one slow reader never slows the others.
 *
 * Gorilla: `Client`, with `readPump` and `writePump`.
 */
export class Client {
  /** The connection. */
  readonly conn: Conn;
  readonly #hub: ClientHub;
  readonly #settings: ChatSettings;
  readonly #queue: PreparedMessage[] = [];
  #pingDue = false;
  #stopped: LeaveReason | null = null;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  /**
   * @param hub - where messages go, and who to tell when the client leaves.
   * @param conn - the client's connection.
   * @param settings - the deadlines, limits and queue size.
   */
  constructor(hub: ClientHub, conn: Conn, settings: ChatSettings) {
    this.#hub = hub;
    this.conn = conn;
    this.#settings = settings;
  }

  /** Why the client left, once it has; `null` while it takes part. */
  get leaveReason(): LeaveReason | null {
    return this.#stopped;
  }

  /** The error that ended the connection, when one did. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Queues a message for the write loop.
   *
   * @returns `false`, queueing nothing, when the queue is full or the client has stopped.
   */
  send(message: PreparedMessage): boolean {
    if (this.#stopped !== null || this.#queue.length >= this.#settings.sendQueueSize) return false;
    this.#queue.push(message);
    this.#notify();
    return true;
  }

  /**
   * Stops the client: the write loop runs the closing handshake (1001 for a shutdown, 1008 for a
   * client too slow to keep up; none after an error or the peer's own close) and closes the
   * connection.
   * Called by the hub, which has already forgotten the client. Gorilla: closing `Client.send`.
   */
  stop(reason: LeaveReason): void {
    if (this.#stopped !== null) return;
    this.#stopped = reason;
    this.#queue.length = 0;
    this.#notify();
  }

  /**
   * Runs the read and write loops, and resolves once both have ended and the connection is
   * closed. Never rejects.
   */
  async run(): Promise<void> {
    await Promise.all([this.#readLoop(), this.#writeLoop()]);
    await this.conn.closed;
  }

  // Gorilla: readPump. The only reader of the connection.
  async #readLoop(): Promise<void> {
    const { conn } = this;
    const { pongWait, maxMessageSize } = this.#settings;
    let reason: LeaveReason = 'closed';
    conn.setReadLimit(maxMessageSize);
    conn.setReadDeadline(Date.now() + pongWait);
    // Each pong proves the peer alive, and buys it another pongWait.
    conn.setPongHandler(() => conn.setReadDeadline(Date.now() + pongWait));
    try {
      for (;;) {
        const { data } = await conn.readMessage();
        // One line per message, as the page shows a message per line; binary messages are read
        // as UTF-8 too, their invalid bytes replaced, so the broadcast stays valid text.
        const text = data.toString('utf8').replace(/\r?\n/g, ' ').trim();
        if (text !== '') this.#hub.broadcast(text);
      }
    } catch (err) {
      if (!isCloseError(err, CloseNormalClosure, CloseGoingAway, CloseNoStatusReceived)) {
        reason = 'error';
        this.#error ??= err as Error;
      }
    }
    this.#hub.unregister(this, reason);
    this.stop(reason);
    // Nothing more can be read; whatever the write loop is waiting for is moot.
    if (reason === 'error') conn.close();
  }

  // Gorilla: writePump. Every write to the connection comes from here.
  async #writeLoop(): Promise<void> {
    const { conn } = this;
    const { writeWait, pingPeriod } = this.#settings;
    const ticker = setInterval(() => {
      this.#pingDue = true;
      this.#notify();
    }, pingPeriod);
    try {
      for (;;) {
        if (this.#stopped !== null) {
          await this.#closeFor(this.#stopped);
          return;
        }
        if (this.#pingDue) {
          // Pings go first: a client kept busy with messages must still be pinged in time.
          this.#pingDue = false;
          await conn.writeControl(PingMessage, '', Date.now() + writeWait);
          continue;
        }
        const message = this.#queue.shift();
        if (message !== undefined) {
          conn.setWriteDeadline(Date.now() + writeWait);
          // The connection gathers the frames written in one tick into one socket write, which
          // does what gorilla's writePump does by joining queued messages with newlines.
          await conn.writePreparedMessage(message);
          continue;
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } catch (err) {
      // A write failed (the deadline passed or the connection is gone): the client is done.
      this.#error ??= err as Error;
      this.#hub.unregister(this, 'error');
      this.stop('error');
    } finally {
      clearInterval(ticker);
      this.conn.close();
    }
  }

  // Runs the closing handshake when the server is the side that ends the conversation.
  async #closeFor(reason: LeaveReason): Promise<void> {
    if (reason === 'shutdown') {
      await this.conn.closeGracefully(
        CloseGoingAway,
        'server shutting down',
        this.#settings.writeWait,
      );
    } else if (reason === 'slow') {
      await this.conn.closeGracefully(ClosePolicyViolation, 'too slow', this.#settings.writeWait);
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
