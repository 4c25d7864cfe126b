/**
 * The plumbing the silverback examples share, so that each example's own files hold its
 * WebSocket part: {@link createPageServer} and {@link listen} for the plain examples' HTTP side,
 * {@link runExample} and {@link envAddress} for their `main.ts`, and for the framework chats the
 * sign-in page ({@link loginPage}), the rule for names ({@link chatName}), {@link Sessions} and
 * {@link joinChat}.
 *
 * @module
 */
export { createPageServer, pathOf, type PageServerOptions } from './page-server.js';
export { closeServer, listen, pageUrl, type ListenOptions, type Listening } from './listen.js';
export { addressProblem, envAddress, runExample, type ExampleAddress } from './run-example.js';
export { loginPage, loginTemplatePath, type LoginPageOptions } from './login-page.js';
export { NAME_RULE, SESSION_COOKIE, Sessions, chatName } from './sign-in.js';
export { joinChat, type ChatRoom } from './join-chat.js';
