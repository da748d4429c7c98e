import type { Logger } from './logger';

/**
 * Graceful shutdown in one place: on SIGTERM, SIGINT, or the supervisor's IPC channel closing
 * (the supervisor died), run `stop` once; a second signal or the timeout exits at once.
 */
export function onShutdown(log: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const run = (reason: string) => {
    if (stopping) {
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
  process.on('SIGTERM', () => run('SIGTERM'));
  process.on('SIGINT', () => run('SIGINT'));
  if (process.send) process.on('disconnect', () => run('supervisor gone'));
}
