/**
 * The chat hub: the set of connected clients, and the broadcast of every message to all of them
 * (gorilla's `examples/chat/hub.go`). Framework chat examples reuse it: hand each upgraded
 * connection to {@link Hub.serve}.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { PreparedMessage, TextMessage, type Conn } from '@silverback/websocket';
import { Client, type ClientHub, type LeaveReason } from './client.js';
import { chatSettings, type ChatSettings } from './settings.js';

/** Options of a {@link Hub}: gorilla's constants, each overridable (tests use short ones). */
export type HubOptions = Partial<ChatSettings>;

/** The events a {@link Hub} emits. */
export interface HubEvents {
  /** A client joined. */
  register: [client: Client];
  /** A client left, and why. Its connection may still be closing. */
  unregister: [client: Client, reason: LeaveReason];
  /** A message was broadcast to every client. */
  broadcast: [message: string];
}

/**
 * Hub keeps the set of active clients and broadcasts messages to them. Each message is encoded
 * once, as a {@link PreparedMessage}, and queued to every client; a client whose queue is full is
 * dropped (closed with 1008) rather than allowed to slow the others down.
 *
 * Gorilla's hub is a goroutine serialising register, unregister and broadcast through channels;
 * in Node the event loop already runs one callback at a time, so they are plain methods.
 *
 * @example
 * const hub = new Hub();
 * server.on('upgrade', (req, socket, head) => {
 *   // A refused upgrade was answered by the upgrader itself.
 *   upgrader.upgrade(req, socket, head).then((conn) => void hub.serve(conn), () => {});
 * });
 */
export class Hub extends EventEmitter<HubEvents> implements ClientHub {
  /** The settings every client of this hub uses. */
  readonly settings: Readonly<ChatSettings>;
  readonly #clients = new Set<Client>();
  readonly #running = new Set<Promise<void>>();

  /**
   * @param options - deadlines, limits and queue size; gorilla's values by default.
   * @throws {RangeError} when the settings are not positive, or `pingPeriod >= pongWait`.
   */
  constructor(options: HubOptions = {}) {
    super();
    this.settings = Object.freeze(chatSettings(options));
  }

  /** The clients currently registered. */
  get clients(): ReadonlySet<Client> {
    return this.#clients;
  }

  /**
   * Registers a connection as a client and runs it until it leaves. Resolves once its connection
   * is closed; never rejects. Gorilla: `serveWs`.
   */
  serve(conn: Conn): Promise<void> {
    const client = new Client(this, conn, this.settings);
    this.#clients.add(client);
    this.emit('register', client);
    const running = client.run();
    this.#running.add(running);
    return running.finally(() => this.#running.delete(running));
  }

  /**
   * Sends `message` to every registered client, as a text message encoded once. Clients whose
   * send queue is full are dropped. Gorilla: the hub's `broadcast` channel.
   */
  broadcast(message: string): void {
    const prepared = new PreparedMessage(TextMessage, message);
    for (const client of this.#clients) {
      if (!client.send(prepared)) this.#remove(client, 'slow');
    }
    this.emit('broadcast', message);
  }

  /**
   * Removes a client from the hub and stops it; does nothing for a client already gone.
   * Gorilla: the hub's `unregister` channel.
   */
  unregister(client: Client, reason: LeaveReason = 'closed'): void {
    this.#remove(client, reason);
  }

  /**
   * Closes every client with 1001 Going Away and resolves once their connections are closed.
   * Clients that join later are served as usual.
   */
  async close(): Promise<void> {
    for (const client of [...this.#clients]) this.#remove(client, 'shutdown');
    await Promise.all(this.#running);
  }

  #remove(client: Client, reason: LeaveReason): void {
    if (!this.#clients.delete(client)) return;
    client.stop(reason);
    this.emit('unregister', client, reason);
  }
}
