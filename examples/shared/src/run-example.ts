/**
 * What every example's `main.ts` does around its own start: the address from `PORT` and `HOST`,
 * one clear line instead of a stack when the address cannot be had, and a clean stop on SIGINT
 * and SIGTERM.
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

/** A `listen` error, as Node reports it: `code`, and the address it could not have. */
interface ListenError {
  code?: unknown;
  port?: unknown;
  address?: unknown;
}

/**
 * The one line to print for an error the user can fix by choosing another address (a port in
 * use, a port that needs privileges, a host that is not this machine's), or `undefined` for any
 * other error, which is printed whole.
 */
export function addressProblem(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, port, address } = err as ListenError;
  const at = typeof port === 'number' ? port : Number(process.env.PORT);
  switch (code) {
    case 'EADDRINUSE':
      return (
        `port ${at} is already in use: set PORT to another one ` +
        `(PORT=${at + 1}, or PORT=0 for any free port)`
      );
    case 'EACCES':
      return `port ${at} needs privileges this process lacks: set PORT to one above 1023`;
    case 'EADDRNOTAVAIL':
      return `${typeof address === 'string' ? address : (process.env.HOST ?? 'HOST')} is not an address of this machine: set HOST to one that is (or leave it unset)`;
    default:
      return undefined;
  }
}

/**
 * Runs an example program. `start` starts it and resolves with the function that stops it; once
 * it has, SIGINT (Ctrl-C) and SIGTERM call that function (the examples close their connections
 * with 1001 Going Away) and exit with 0 when it resolves; a second signal exits at once, with 1.
 * A failure to start is printed (one line when the address cannot be had: a port in use, say)
 * and the process exits with 1; so does a failure to stop.
 *
 * The examples' `npm start` scripts `exec` Node, so that a signal sent to npm's own process ID
 * reaches this one: npm passes SIGTERM on to the shell it started, and a shell that is waiting
 * for Node would die without passing it on.
 */
export function runExample(start: () => Promise<() => Promise<unknown>>): void {
  const fail = (err: unknown): void => {
    console.error(addressProblem(err) ?? err);
    process.exit(1);
  };
  start().then((stop) => {
    let stopping = false;
    const onSignal = (): void => {
      if (stopping) process.exit(1);
      stopping = true;
      stop().then(() => process.exit(0), fail);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }, fail);
}
