/**
 * What every example's `main.ts` does around its own start: the address from `PORT` and `HOST`,
 * and a clean stop on Ctrl-C.
 *
 * @module
 */

/** Where an example listens. */
export interface ExampleAddress<THost extends string | undefined> {
  /** `PORT`, or the example's default port. */
  port: number;
  /** `HOST`, or the example's default host (`undefined`: every interface). */
  host: THost;
}

/**
 * The address an example listens on: `PORT` and `HOST` from the environment, else the defaults.
 */
export function envAddress(defaultPort: number): ExampleAddress<string | undefined>;
export function envAddress(defaultPort: number, defaultHost: string): ExampleAddress<string>;
export function envAddress(
  defaultPort: number,
  defaultHost?: string,
): ExampleAddress<string | undefined> {
  return { port: Number(process.env.PORT ?? defaultPort), host: process.env.HOST ?? defaultHost };
}

/**
 * Runs an example program. `start` starts it and resolves with the function that stops it; once
 * it has, SIGINT (Ctrl-C) and SIGTERM call that function and exit with 0 when it resolves. A
 * failure to start or to stop is printed, and the process exits with 1.
 */
export function runExample(start: () => Promise<() => Promise<unknown>>): void {
  const fail = (err: unknown): void => {
    console.error(err);
    process.exit(1);
  };
  start().then((stop) => {
    const onSignal = (): void => {
      stop().then(() => process.exit(0), fail);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }, fail);
}
