/**
 * A test file's cleanups: what each test opened (servers, clients, apps) is closed after it, last
 * opened first, whether the test passed or not.
 */

/** Functions to run after the current test; push one for each thing the test opens. */
export type Cleanups = (() => unknown)[];

/**
 * Returns the file's cleanup list and registers the `afterEach` that runs it, last pushed first,
 * awaiting each. Call it at the top level of the file.
 */
export function useCleanups(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
