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

/** A queue of values that a test takes in order, waiting for those not there yet. */
export interface Queue<T> {
  push(value: T): void;
  next(): Promise<T>;
}

/** Returns an empty {@link Queue}. */
export function queue<T>(): Queue<T> {
  const values: T[] = [];
  const waiting: ((value: T) => void)[] = [];
  return {
    push(value) {
      const take = waiting.shift();
      if (take) take(value);
      else values.push(value);
    },
    next() {
      if (values.length > 0) return Promise.resolve(values.shift()!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}
