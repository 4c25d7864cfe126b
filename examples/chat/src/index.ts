/**
 * The chat example: a {@link Hub} of {@link Client}s broadcasting every message to all, served by
 * {@link startChat}. The framework chat examples reuse the hub and the page.
 *
 * @module
 */
export { Hub, type HubOptions, type HubEvents } from './hub.js';
export { Client, type ClientHub, type LeaveReason } from './client.js';
export {
  chatSettings,
  writeWait,
  pongWait,
  pingPeriod,
  maxMessageSize,
  sendQueueSize,
  type ChatSettings,
} from './settings.js';
export { startChat, chatPagePath, type ChatOptions, type ChatServer } from './server.js';
