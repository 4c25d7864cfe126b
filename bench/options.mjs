// The command line of run.mjs.
import { parseArgs } from 'node:util';
import { SCENARIOS, SERVERS } from './scenarios.mjs';

export const USAGE = `Usage: node bench/run.mjs [options]     (npm run bench builds first, then runs this)

  --scenarios=LIST   comma-separated: ${Object.keys(SCENARIOS).join(', ')} (default: all)
  --servers=LIST     comma-separated: ${Object.keys(SERVERS).join(', ')}
                     (default: each scenario's own list)
  --reps=N           measured repetitions per server; the median is reported (default 3)
  --duration=S       seconds measured per repetition (default 2), or until the first echo
                     where none came back in time
  --warmup=S         seconds of load before each measurement, not counted (default 1)
  --connections=N    override the scenarios' connection count
  --window=N         override the messages in flight per connection
  --size=BYTES       override the message size (in a mix, the large messages')
  --quick            one short repetition (reps 1, duration 0.5, warm-up 0.25): a smoke run
  --profile[=LIST]   run these servers (default: ours) under node --cpu-prof, write the
                     profiles to bench/profiles/ and print their top self-time functions
  --top=N            functions listed per profile (default 15)
  --json=FILE        also write every figure to FILE
  --help             this text
`;

/**
 * @typedef {object} Options
 * @property {string[]} scenarios
 * @property {string[] | null} servers
 * @property {number} reps
 * @property {number} durationMs
 * @property {number} warmupMs
 * @property {{ connections?: number, window?: number, size?: number }} overrides
 * @property {string[]} profile - servers to run under --cpu-prof.
 * @property {number} top
 * @property {string | null} json
 * @property {boolean} help
 */

/**
 * Parses `argv`.
 *
 * @param {string[]} argv
 * @returns {Options}
 * @throws {Error} on unknown options, names or malformed numbers.
 */
export function parseOptions(argv) {
  const { values } = parseArgs({
    // `--profile` alone means our server; parseArgs wants a value, so give it that one.
    args: argv.map((arg) => (arg === '--profile' ? '--profile=ours' : arg)),
    strict: true,
    options: {
      scenarios: { type: 'string' },
      servers: { type: 'string' },
      reps: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      size: { type: 'string' },
      quick: { type: 'boolean', default: false },
      profile: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick;
  const overrides = {};
  for (const name of ['connections', 'window', 'size']) {
    if (values[name] !== undefined) overrides[name] = count(name, values[name], 1);
  }
  return {
    scenarios:
      list('scenarios', values.scenarios, Object.keys(SCENARIOS)) ?? Object.keys(SCENARIOS),
    servers: list('servers', values.servers, Object.keys(SERVERS)),
    reps: values.reps !== undefined ? count('reps', values.reps, 1) : quick ? 1 : 3,
    durationMs: seconds('duration', values.duration, quick ? 0.5 : 2),
    warmupMs: seconds('warmup', values.warmup, quick ? 0.25 : 1),
    overrides,
    profile:
      values.profile === undefined
        ? []
        : (list('profile', values.profile, Object.keys(SERVERS)) ?? []),
    top: values.top !== undefined ? count('top', values.top, 1) : 15,
    json: values.json ?? null,
    help: values.help,
  };
}

/** A comma-separated list whose items must all be `known`; undefined stays null. */
function list(name, value, known) {
  if (value === undefined) return null;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of items) {
    if (!known.includes(item)) {
      throw new Error(`--${name}: unknown ${JSON.stringify(item)} (known: ${known.join(', ')})`);
    }
  }
  if (items.length === 0) throw new Error(`--${name}: empty list`);
  return items;
}

function count(name, value, min) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

function seconds(name, value, fallback) {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number of seconds`);
  return Math.round(n * 1000);
}
