// What the parent asks of a server, passed in the environment so one script serves every variant.
import process from 'node:process';

/**
 * The permessage-deflate settings from `BENCH_DEFLATE` (`level,threshold`), or `null` when the
 * server must not negotiate compression.
 *
 * @returns {{ level: number, threshold: number } | null}
 */
export function compressionSettings() {
  const value = process.env.BENCH_DEFLATE;
  if (value === undefined || value === '') return null;
  const [level, threshold] = value.split(',').map(Number);
  if (!Number.isInteger(level) || !Number.isInteger(threshold)) {
    throw new Error(`BENCH_DEFLATE must be "level,threshold", got ${JSON.stringify(value)}`);
  }
  return { level, threshold };
}
