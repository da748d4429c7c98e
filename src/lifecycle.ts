import type { Logger } from './logger';

/** Ask the process to stop (as SIGTERM would), leaving with `exitCode` once everything is closed. */
export type Shutdown = (reason: string, exitCode?: number) => void;

/**
 * Graceful shutdown in one place: on SIGTERM, SIGINT, the supervisor's IPC channel closing
 * (the supervisor died), or the process's own request through the returned `Shutdown` (e.g. a
 * broadcaster that lost its channel), run `stop` once and exit; library code never exits itself.
 * A second signal or the timeout exits at once.
 */
export function onShutdown(log: Logger, timeoutMs: number, stop: () => Promise<void>): Shutdown {
  let stopping = false;
  const run = (reason: string, exitCode?: number, signal = false) => {
    if (exitCode !== undefined) process.exitCode = exitCode;
    if (stopping) {
      // A request while already stopping only sets the exit code; a second signal means now.
      if (!signal) return;
      log.warn({ reason }, 'second shutdown request: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ reason }, 'shutting down');
    const guard = setTimeout(() => {
      log.error({ timeoutMs }, 'graceful shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs + 5000);
    guard.unref();
    stop().then(
      () => {
        log.info('stopped');
        // Give pino a tick to flush, then leave even if a library left a handle open.
        setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
      },
      (err: unknown) => {
        log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => run('SIGTERM', undefined, true));
  process.on('SIGINT', () => run('SIGINT', undefined, true));
  if (process.send) process.on('disconnect', () => run('supervisor gone', undefined, true));
  return (reason, exitCode) => run(reason, exitCode);
}
