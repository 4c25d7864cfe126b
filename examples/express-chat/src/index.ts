/**
 * The Express chat example: {@link createChatApp} builds the application.
 *
 * @module
 */
export { createChatApp, SESSION_COOKIE, type ChatApp, type ChatAppOptions } from './app.js';
