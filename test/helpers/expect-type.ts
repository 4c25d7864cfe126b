/**
 * Compile-time type assertions for the adapters' type tests (their `types-test` folders), which
 * `tsc --noEmit` checks and nothing runs: the idea behind `tsd` and `tstyche`, in a few lines.
 */

/** `true` when A and B are exactly the same type (not merely assignable either way). */
export type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * `expectType<A>()(value)` compiles only when the value's type is exactly A: otherwise the call
 * is missing an argument of type `never`.
 */
export function expectType<Expected>() {
  return <Actual>(
    _value: Actual,
    ..._equal: Equal<Expected, Actual> extends true ? [] : [never]
  ) => {};
}
