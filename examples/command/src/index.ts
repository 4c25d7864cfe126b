/**
 * The command example: {@link startCommand} runs a command per connection and joins its stdin
 * and stdout to the browser.
 *
 * @module
 */
export {
  startCommand,
  commandPagePath,
  type CommandOptions,
  type CommandServer,
} from './server.js';
export {
  runCommand,
  writeWait,
  maxMessageSize,
  killWait,
  maxLineLength,
  type CommandExit,
} from './session.js';
