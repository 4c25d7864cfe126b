// Summarises a V8 .cpuprofile (as `node --cpu-prof` writes it): the functions and the files that
// spent the most self time, i.e. time with that function on top of the stack.
//
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { markdown } from './report.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * @typedef {object} ProfileEntry
 * @property {string} name - function (with file and line) or file.
 * @property {number} ms - self time.
 * @property {number} percent - of the busy (not idle) sampled time.
 */

/**
 * Adds up self time per function and per file.
 *
 * @param {{ nodes: object[], samples: number[], timeDeltas: number[] }} profile - a parsed
 *   .cpuprofile.
 * @param {number} top - how many of each to keep.
 * @returns {{ busyMs: number, idleMs: number, functions: ProfileEntry[], files: ProfileEntry[] }}
 */
export function summarize(profile, top) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  // timeDeltas[i] is the time from sample i-1 to sample i; the time until the next sample is the
  // best estimate of how long sample i's stack ran.
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const us = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + us);
  }
  // A server waiting for I/O is idle, not slow: percentages are of the busy time.
  let total = 0;
  let idle = 0;
  const functions = new Map();
  const files = new Map();
  for (const [id, us] of self) {
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const file = shortFile(frame.url);
    const where = frameName(frame);
    functions.set(where, (functions.get(where) ?? 0) + us);
    const fileKey = file === '' ? where : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const entries = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: total > 0 ? (100 * us) / total : 0 }));
  return {
    busyMs: total / 1000,
    idleMs: idle / 1000,
    functions: entries(functions),
    files: entries(files),
  };
}

/**
 * The summary as two Markdown tables.
 *
 * @param {ReturnType<typeof summarize>} summary
 * @returns {string}
 */
export function formatSummary(summary) {
  const rows = (entries, title) => [
    ['self %', 'self ms', title],
    ...entries.map((e) => [`${e.percent.toFixed(1)}%`, e.ms.toFixed(0), e.name]),
  ];
  return [
    `Busy ${(summary.busyMs / 1000).toFixed(2)} s, idle ${(summary.idleMs / 1000).toFixed(2)} s; ` +
      'percentages are of the busy time.',
    '',
    markdown(rows(summary.functions, 'function')),
    '',
    markdown(rows(summary.files, 'file (self time of all its functions)')),
  ].join('\n');
}

/**
 * How a profile names a function: its name with file and line, V8's own entries ('(garbage
 * collector)', '(program)') as they are, and other functions without a script as native ones (a
 * socket write, say).
 *
 * @param {{ functionName: string, url: string, lineNumber: number }} frame - a node's callFrame.
 * @returns {string}
 */
export function frameName(frame) {
  const file = shortFile(frame.url);
  const name = frame.functionName || '(anonymous)';
  if (file !== '') return `${name} ${file}:${frame.lineNumber + 1}`;
  return name.startsWith('(') ? name : `${name} (native)`;
}

/** A script's URL as a path relative to the repository (or a node: / built-in name). */
function shortFile(url) {
  if (url === '') return '';
  if (!url.startsWith('file://')) return url;
  const path = fileURLToPath(url);
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
  if (args.length !== 1 || !Number.isInteger(top) || top < 1) {
    process.stderr.write('Usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(args[0], 'utf8'));
  process.stdout.write(formatSummary(summarize(profile, top)) + '\n');
}
