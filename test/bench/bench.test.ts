/**
 * The benchmark harness's own behaviour: its frame counter (header-only parsing, any chunking),
 * the frame pool's payload accounting, the servers' load monitor, whole short runs against every
 * server (the many-connection scenario with a few connections), and the CPU-profile summaries.
 * Speed is not asserted here; `npm run bench` measures it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { frame } from '../helpers/frames';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

interface Expect {
  opcode: number;
  length: number | null;
  rsv1: boolean | null;
}

interface Counted {
  messages: number;
  frames: number;
  payloadBytes: number;
  perChunk: number[];
  error: string | null;
}

/**
 * Feeds each run's chunks to a fresh FrameCounter of the bench, all in one child process (the
 * counter is an ES module).
 */
function countRuns(expect: Expect, runs: Buffer[][]): Counted[] {
  const input = JSON.stringify({
    expect,
    runs: runs.map((chunks) => chunks.map((c) => c.toString('base64'))),
  });
  const output = execFileSync(process.execPath, [join(__dirname, 'feed-counter.mjs')], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as Counted[];
}

function count(expect: Expect, chunks: Buffer[]): Counted {
  return countRuns(expect, [chunks])[0]!;
}

const TEXT: Expect = { opcode: 1, length: null, rsv1: false };

describe('bench frame counter', () => {
  // Every length form, masked (as the raw echo returns) and not, and a fragmented message with
  // a ping between its fragments.
  const stream = Buffer.concat([
    frame({ opcode: 1, payload: 'a'.repeat(32) }),
    frame({ opcode: 1, payload: '', mask: false }),
    frame({ opcode: 1, payload: 'b'.repeat(300), mask: false }),
    frame({ opcode: 1, payload: 'c'.repeat(70_000) }),
    frame({ opcode: 1, payload: 'd'.repeat(10), fin: false, mask: false }),
    frame({ opcode: 9, payload: 'ping', mask: false }),
    frame({ opcode: 0, payload: 'e'.repeat(200), mask: false }),
    frame({ opcode: 1, payload: 'f'.repeat(5), lengthForm: 127, mask: false }),
  ]);
  const bytes = 32 + 0 + 300 + 70_000 + 210 + 5;

  test('counts whole messages and their payload bytes in one chunk', () => {
    const counted = count(TEXT, [stream]);
    expect(counted).toMatchObject({ messages: 6, frames: 8, payloadBytes: bytes, error: null });
  });

  test('counts the same at every split point, headers split included', () => {
    // Split points across every header and the fragment boundaries; payload interiors are
    // sampled, since skipping a payload does not depend on where it is cut.
    const points: number[] = [];
    for (let at = 1; at < stream.length; at += at < 400 || stream.length - at < 400 ? 1 : 997) {
      points.push(at);
    }
    const results = countRuns(
      TEXT,
      points.map((at) => [stream.subarray(0, at), stream.subarray(at)]),
    );
    expect(results).toHaveLength(points.length);
    for (const counted of results) {
      expect(counted).toMatchObject({ messages: 6, payloadBytes: bytes, error: null });
    }
  });

  test('counts the same when fed one byte at a time', () => {
    const head = stream.subarray(0, 500);
    const chunks = Array.from(head, (_, i) => head.subarray(i, i + 1));
    const counted = count(TEXT, [...chunks, stream.subarray(500)]);
    expect(counted).toMatchObject({ messages: 6, payloadBytes: bytes, error: null });
    // A message completes on the byte that ends it, and only then: the first frame is 2 header
    // bytes, a 4-byte key and 32 payload bytes; the empty one after it ends with its header.
    expect(counted.perChunk.slice(0, 40)).toEqual([...Array<number>(37).fill(0), 1, 0, 1]);
  });

  test('refuses echoes that are not what was sent', () => {
    const exact: Expect = { opcode: 1, length: 4, rsv1: false };
    expect(count(exact, [frame({ opcode: 1, payload: 'abcde' })]).error).toMatch(/5-byte/);
    expect(count(exact, [frame({ opcode: 2, payload: 'abcd' })]).error).toMatch(/opcode 2/);
    expect(count(exact, [frame({ opcode: 1, payload: 'abcd', rsv1: true })]).error).toMatch(/RSV1/);
    expect(count(exact, [frame({ opcode: 8, payload: '' })]).error).toMatch(/close frame/);
    expect(count(exact, [frame({ opcode: 0, payload: 'abcd' })]).error).toMatch(/continuation/);
    const compressed: Expect = { opcode: 1, length: null, rsv1: null };
    expect(count(compressed, [frame({ opcode: 1, payload: 'xyz', rsv1: true })])).toMatchObject({
      messages: 1,
      error: null,
    });
  });
});

describe('bench frame pool', () => {
  test('counts the payload of the frames a cursor passes, wrapping round', () => {
    // Payload sizes 10, 20, 30, 40; the frames themselves are placeholders.
    const script =
      "import { FramePool } from './bench/client-frames.mjs';" +
      'const pool = new FramePool([1, 2, 3, 4].map((n) => Buffer.alloc(n)), [10, 20, 30, 40]);' +
      'const cases = [[0, 1], [1, 2], [3, 1], [3, 2], [2, 4], [1, 9], [0, 0]];' +
      'process.stdout.write(JSON.stringify(cases.map(([c, k]) => pool.payloadBytes(c, k))));';
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(JSON.parse(output)).toEqual([10, 50, 40, 50, 100, 220, 0]);
  });
});

describe('bench load monitor', () => {
  interface Delay {
    samples: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
  }
  interface Stall {
    atSeconds: number;
    ms: number;
  }
  interface Probe {
    stats: {
      loopDelay: Delay;
      steadyLoopDelay: Delay | null;
      rssStart: number;
      peakRss: number;
      peakExternal: number;
      longestStalls: Stall[];
    };
  }

  interface Stimulus {
    label: string;
    /** Where the monitor must report its stall, in seconds on the monitor's clock. */
    from: number;
    to: number;
  }

  test('sees the event loop held and memory written, and says when the loop stalled', () => {
    // The first hold is four times the second so that the steady figures, which must not see it,
    // are told apart from the whole run's by the stimulus and not by how busy the machine is.
    const firstMs = 400;
    const secondMs = 100;
    const touchMb = 64;
    const output = execFileSync(
      process.execPath,
      [
        join(__dirname, 'load-monitor-probe.mjs'),
        String(firstMs),
        String(secondMs),
        String(touchMb),
      ],
      { encoding: 'utf8' },
    );
    const { stats, stimuli } = JSON.parse(output) as Probe & { stimuli: Stimulus[] };
    const whole = stats.loopDelay;
    const steady = stats.steadyLoopDelay!;
    for (const delay of [whole, steady]) {
      expect(delay.samples).toBeGreaterThan(10);
      expect(delay.p50Ms).toBeLessThanOrEqual(delay.p99Ms);
      expect(delay.p99Ms).toBeLessThanOrEqual(delay.maxMs);
    }

    // The stalls come longest first. Each is labelled with the hold it followed, by when it was
    // reported; in the order they happened, the labelled ones are the first hold's, then the
    // second's, each at least as long as its hold less the monitor's 10 ms timer period (a busy
    // machine only makes a hold longer).
    const stalls = stats.longestStalls;
    expect(stalls.map((stall) => stall.ms)).toEqual(
      stalls.map((stall) => stall.ms).sort((a, b) => b - a),
    );
    const labelOf = (stall: Stall) =>
      stimuli.find(({ from, to }) => stall.atSeconds >= from && stall.atSeconds <= to)?.label;
    const inOrder = [...stalls].sort((a, b) => a.atSeconds - b.atSeconds);
    const labels = inOrder.map(labelOf).filter((label) => label !== undefined);
    expect([...new Set(labels)]).toEqual(['first hold', 'second hold']);
    const longest = (label: string) =>
      Math.max(...stalls.filter((stall) => labelOf(stall) === label).map((stall) => stall.ms));
    const first = longest('first hold');
    expect(first).toBeGreaterThanOrEqual(firstMs - 10);
    expect(longest('second hold')).toBeGreaterThanOrEqual(secondMs - 10);

    // The whole run saw the first hold (before the histogram's own timer fired, so through the
    // monitor's timer); the steady figures, from the mark on, saw the second hold whole and not
    // the first.
    expect(whole.maxMs).toBeGreaterThanOrEqual(first);
    expect(steady.maxMs).toBeGreaterThanOrEqual(secondMs - 1);
    expect(steady.maxMs).toBeLessThan(first);

    expect(stats.peakRss - stats.rssStart).toBeGreaterThanOrEqual(touchMb * 1e6 * 0.9);
    expect(stats.peakExternal).toBeGreaterThanOrEqual(touchMb * 1e6);
  });
});

describe('bench run', () => {
  // Each run starts every server and a load generator in turn; on a busy machine that takes
  // minutes (the timeout only guards against a hang).
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'silverback-bench-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  interface Figures {
    msgs: number;
    mb: number;
    msgsPerSecond: number[];
    generatorCpu: number;
    load: {
      loopDelayP50Ms: number;
      loopDelayP99Ms: number;
      loopDelayMaxMs: number;
      loadLoopDelayMaxMs: number;
      peakRss: number;
      peakRssPerRep: number[];
      rssAtStart: number;
      peakExternal: number;
    } | null;
  }
  interface Report {
    scenarios: Record<string, { results: Record<string, Figures>; errors: Record<string, string> }>;
  }

  test('measures every server in the echo scenarios with correct echoes', async () => {
    const json = join(dir, 'report.json');
    const { stdout } = await run(
      process.execPath,
      [
        'bench/run.mjs',
        '--scenarios=small,large,deflate',
        '--quick',
        '--duration=0.5',
        '--warmup=0.2',
        `--json=${json}`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const servers = (name: string) => Object.keys(report.scenarios[name]!.results);
    expect(servers('small')).toEqual(['raw', 'ws', 'ws-addons', 'ours']);
    expect(servers('large')).toEqual(['raw', 'ws', 'ws-addons', 'ours']);
    expect(servers('deflate')).toEqual(['ws', 'ours']);
    for (const { results, errors } of Object.values(report.scenarios)) {
      expect(errors).toEqual({});
      for (const figures of Object.values(results)) {
        expect(figures.msgsPerSecond).toHaveLength(1);
        expect(figures.msgs).toBeGreaterThan(0);
        expect(figures.mb).toBeGreaterThan(0);
      }
    }
    expect(stdout).toMatch(/\| silverback +\| [\d,]+ +\|/);
    expect(stdout).toMatch(/Generator headroom: .* the rate of ws\./);
    // The servers measure themselves only where a scenario asks them to.
    expect(stdout).not.toMatch(/loop delay/);
  }, 300_000);

  test('runs the many-connection compressed scenario with a few connections', async () => {
    const json = join(dir, 'many.json');
    const size = 70_000;
    const { stdout } = await run(
      process.execPath,
      [
        'bench/run.mjs',
        '--scenarios=deflate-many',
        '--connections=3',
        `--size=${size}`,
        '--reps=2',
        '--duration=0.3',
        '--warmup=0.1',
        `--json=${json}`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const { results, errors } = report.scenarios['deflate-many']!;
    expect(errors).toEqual({});
    expect(Object.keys(results)).toEqual(['ws', 'ours']);
    for (const figures of Object.values(results)) {
      expect(figures.msgsPerSecond).toHaveLength(2);
      expect(figures.msgs).toBeGreaterThan(0);
      // Each large message is followed by three of 2,048 bytes: the payload counted per message
      // lies between the two sizes.
      const perMessage = (figures.mb * 1e6) / figures.msgs;
      expect(perMessage).toBeGreaterThan(2048);
      expect(perMessage).toBeLessThan(size);
      const load = figures.load!;
      expect(load.loopDelayP50Ms).toBeLessThanOrEqual(load.loopDelayP99Ms);
      expect(load.loopDelayP99Ms).toBeLessThanOrEqual(load.loopDelayMaxMs);
      expect(load.loadLoopDelayMaxMs).toBeGreaterThanOrEqual(0);
      expect(load.peakRssPerRep).toHaveLength(2);
      expect(load.peakRss).toBe(Math.max(...load.peakRssPerRep));
      expect(load.peakRss).toBeGreaterThanOrEqual(load.rssAtStart);
      expect(load.peakExternal).toBeGreaterThan(0);
    }
    expect(stdout).toMatch(/70,000-byte text messages, each followed by 3 of 2,048 bytes/);
    expect(stdout).toMatch(/\| server +\| loop delay p50 \(vs ws\) +\| loop delay p99/);
    // A ratio reads n/a where ws's figure rounds to 0.00 ms (its p50 on an idle loop).
    expect(stdout).toMatch(/\| silverback +\| [\d.]+ ms \((?:[\d.]+x|n\/a)\) +\|/);
  }, 300_000);

  test('rejects unknown options with the usage text', async () => {
    const failure = await run(process.execPath, ['bench/run.mjs', '--servers=nginx'], {
      cwd: ROOT,
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/unknown "nginx"[\s\S]*Usage/);
  });
});

describe('bench profile stalls', () => {
  test('finds the longest busy stretches, longest first, and what ran in each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'silverback-stalls-'));
    try {
      const script = join(dir, 'stalls.js');
      // Two stretches of work with an idle wait between them: 300 ms, then 100 ms.
      writeFileSync(
        script,
        'function spin(ms) { const end = Date.now() + ms; let x = 0; ' +
          'while (Date.now() < end) x += Math.sqrt(x + 1); return x; }\n' +
          'function spinShort() { return spin(100); }\nfunction spinLong() { return spin(300); }\n' +
          'spinShort();\nsetTimeout(spinLong, 100);\n',
      );
      execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, script]);
      const profile = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
      const output = execFileSync(
        process.execPath,
        [join(ROOT, 'bench', 'profile-stalls.mjs'), join(dir, profile!), '--count', '2'],
        { encoding: 'utf8' },
      );
      const stretches = output.split(/^Busy /m).slice(1);
      expect(stretches).toHaveLength(2);
      const [longest, next] = stretches.map((text) => ({
        ms: Number(/^(\d+) ms/.exec(text)![1]),
        at: Number(/from ([\d.]+) s/.exec(text)![1]),
        text,
      }));
      expect(longest!.ms).toBeGreaterThanOrEqual(290);
      expect(longest!.text).toMatch(/\| spinLong .*stalls\.js:3/);
      expect(next!.ms).toBeGreaterThanOrEqual(90);
      expect(next!.ms).toBeLessThan(longest!.ms);
      expect(next!.text).toMatch(/\| spinShort .*stalls\.js:2/);
      // The short one ran first.
      expect(next!.at).toBeLessThan(longest!.at);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench profile summary', () => {
  test('names the function that spent the time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'silverback-profile-'));
    try {
      const script = join(dir, 'busy.js');
      writeFileSync(
        script,
        'function spinForAWhile() { const end = Date.now() + 300; let x = 0; ' +
          'while (Date.now() < end) x += Math.sqrt(x + 1); return x; }\nspinForAWhile();\n',
      );
      execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, script]);
      const profile = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
      expect(profile).toBeDefined();
      const output = execFileSync(
        process.execPath,
        [join(ROOT, 'bench', 'profile-summary.mjs'), join(dir, profile!), '--top', '3'],
        { encoding: 'utf8' },
      );
      // The busy function tops the table, with its file and line.
      const firstRow = output.split('\n').find((line) => /^\| \d/.test(line));
      expect(firstRow).toMatch(/spinForAWhile .*busy\.js:1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
