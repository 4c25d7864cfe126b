// Finds where a V8 .cpuprofile's thread was busy longest without a break: the stretches of samples
// with no '(idle)' among them, which in a server are the event loop held, and says what ran in
// them. The load monitor says how long and when the loop stalled; this says why.
//
// Usage: node bench/profile-stalls.mjs FILE.cpuprofile [--count N] [--top N]
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { frameName } from './profile-summary.mjs';
import { markdown } from './report.mjs';

/**
 * @typedef {object} Stretch
 * @property {number} atSeconds - when it began, in seconds after the profile started.
 * @property {number} ms - how long it lasted.
 * @property {{ name: string, ms: number }[]} self - functions by time on top of the stack.
 * @property {{ name: string, ms: number }[]} inclusive - functions by time anywhere on the stack
 *   (what called the expensive ones), the root left out.
 */

/**
 * The `count` longest busy stretches of `profile`, longest first, each with its `top` functions.
 *
 * @param {{ nodes: object[], samples: number[], timeDeltas: number[] }} profile - a parsed
 *   .cpuprofile.
 * @param {number} count
 * @param {number} top
 * @returns {Stretch[]}
 */
export function longestStretches(profile, count, top) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const { samples, timeDeltas } = profile;
  // As in profile-summary.mjs, sample i ran until sample i + 1 was taken.
  const starts = [];
  let time = 0;
  for (let i = 0; i < samples.length; i++) {
    time += timeDeltas[i];
    starts.push(time);
  }
  const lengthOf = (i) => timeDeltas[i + 1] ?? 0;
  const idle = (i) => byId.get(samples[i]).callFrame.functionName === '(idle)';

  const stretches = [];
  let first = -1;
  for (let i = 0; i <= samples.length; i++) {
    if (i < samples.length && !idle(i)) {
      if (first < 0) first = i;
    } else if (first >= 0) {
      stretches.push({ first, last: i - 1, us: starts[i - 1] + lengthOf(i - 1) - starts[first] });
      first = -1;
    }
  }
  stretches.sort((a, b) => b.us - a.us);

  return stretches.slice(0, count).map(({ first, last, us }) => {
    const self = new Map();
    const inclusive = new Map();
    for (let i = first; i <= last; i++) {
      const sampleUs = lengthOf(i);
      const top = frameName(byId.get(samples[i]).callFrame);
      self.set(top, (self.get(top) ?? 0) + sampleUs);
      // A recursive function counts once per sample.
      const seen = new Set();
      for (let id = samples[i]; parent.has(id); id = parent.get(id)) {
        const name = frameName(byId.get(id).callFrame);
        if (seen.has(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + sampleUs);
      }
    }
    const ranked = (map) =>
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, entryUs]) => ({ name, ms: entryUs / 1000 }));
    return {
      atSeconds: (starts[first] - starts[0]) / 1e6,
      ms: us / 1000,
      self: ranked(self),
      inclusive: ranked(inclusive),
    };
  });
}

/**
 * The stretches as Markdown: a line and a table each.
 *
 * @param {Stretch[]} stretches
 * @returns {string}
 */
export function formatStretches(stretches) {
  return stretches
    .map((stretch) => {
      const rows = [['self ms', 'function', 'inclusive ms', 'function (and its callees)']];
      for (let i = 0; i < Math.max(stretch.self.length, stretch.inclusive.length); i++) {
        const self = stretch.self[i];
        const inclusive = stretch.inclusive[i];
        rows.push([
          self === undefined ? '' : self.ms.toFixed(1),
          self?.name ?? '',
          inclusive === undefined ? '' : inclusive.ms.toFixed(1),
          inclusive?.name ?? '',
        ]);
      }
      return (
        `Busy ${stretch.ms.toFixed(0)} ms without a break, from ` +
        `${stretch.atSeconds.toFixed(2)} s into the profile:\n\n${markdown(rows)}`
      );
    })
    .join('\n\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const take = (flag, fallback) => {
    const at = args.indexOf(flag);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const count = take('--count', 3);
  const top = take('--top', 10);
  if (args.length !== 1 || ![count, top].every((n) => Number.isInteger(n) && n >= 1)) {
    process.stderr.write(
      'Usage: node bench/profile-stalls.mjs FILE.cpuprofile [--count N] [--top N]\n',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(args[0], 'utf8'));
  process.stdout.write(formatStretches(longestStretches(profile, count, top)) + '\n');
}
