/**
 * The filewatch example: {@link startFilewatch} shows a file in the browser and pushes its new
 * content each time it changes.
 *
 * @module
 */
export {
  startFilewatch,
  renderPage,
  filewatchPagePath,
  writeWait,
  pongWait,
  pingPeriod,
  filePeriod,
  maxMessageSize,
  type FilewatchOptions,
  type FilewatchServer,
} from './server.js';
export { FileWatcher, readSnapshot, type Snapshot, type FileWatcherEvents } from './watcher.js';
