/**
 * The Koa chat example: {@link createChatApp} builds the application.
 *
 * @module
 */
export {
  createChatApp,
  USER_COOKIE,
  type ChatApp,
  type ChatAppOptions,
  type ChatState,
} from './app.js';
