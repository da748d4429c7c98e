/**
 * Runs a script's `main` to the end, then exits: with `process.exitCode` (0 when unset), or 1
 * with the error printed when it throws. Exiting is explicit because the loopback servers and
 * Redis clients a script opened may still hold the event loop.
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
