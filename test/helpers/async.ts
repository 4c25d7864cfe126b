/** Small promise helpers shared by tests. */

/**
 * Lets the event loop turn once (past I/O callbacks), so that work already queued (a socket's
 * data, a stream's writes) runs before the test goes on.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves with the reason `promise` rejects with; fails when it resolves instead. */
export function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}
