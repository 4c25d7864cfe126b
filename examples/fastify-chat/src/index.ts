/**
 * The Fastify chat example: {@link buildChatApp} builds the application.
 *
 * @module
 */
export { buildChatApp, SESSION_COOKIE, type ChatApp, type ChatAppOptions } from './app.js';
