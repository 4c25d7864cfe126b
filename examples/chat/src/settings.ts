/**
 * The chat example's timing and size settings, with gorilla's values as defaults.
 *
 * @module
 */

/** Time allowed to write a message to the peer, in milliseconds. Gorilla: `writeWait`. */
export const writeWait = 10_000;

/** Time allowed to read the next pong from the peer, in milliseconds. Gorilla: `pongWait`. */
export const pongWait = 60_000;

/**
 * How often to ping the peer, in milliseconds. It must be less than {@link pongWait}, so that the
 * pong arrives before the read deadline passes. Gorilla: `pingPeriod`.
 */
export const pingPeriod = (pongWait * 9) / 10;

/** The largest message a client may send, in bytes. Gorilla: `maxMessageSize`. */
export const maxMessageSize = 512;

/**
 * How many messages may wait for a client's write loop before the client is dropped as too slow.
 * Gorilla: the capacity of `Client.send`.
 */
export const sendQueueSize = 256;

/** The settings of a {@link Hub}; each defaults to the constant of the same name. */
export interface ChatSettings {
  writeWait: number;
  pongWait: number;
  pingPeriod: number;
  maxMessageSize: number;
  sendQueueSize: number;
}

/**
 * Fills in the defaults and checks that the settings make sense together.
 *
 * @throws {RangeError} when a setting is not a positive number, or `pingPeriod` is not less than
 *   `pongWait`.
 */
export function chatSettings(options: Partial<ChatSettings> = {}): ChatSettings {
  const givenPongWait = options.pongWait ?? pongWait;
  const settings: ChatSettings = {
    writeWait: options.writeWait ?? writeWait,
    pongWait: givenPongWait,
    pingPeriod: options.pingPeriod ?? (givenPongWait * 9) / 10,
    maxMessageSize: options.maxMessageSize ?? maxMessageSize,
    sendQueueSize: options.sendQueueSize ?? sendQueueSize,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!(typeof value === 'number' && value > 0)) {
      throw new RangeError(`chat: ${name} must be a positive number`);
    }
  }
  if (settings.pingPeriod >= settings.pongWait) {
    throw new RangeError('chat: pingPeriod must be less than pongWait');
  }
  return settings;
}
