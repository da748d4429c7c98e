/**
 * Waits `ms` milliseconds. With a signal, the wait ends early when it aborts (resolving, not
 * throwing), so a loop that sleeps between tries sees the abort at its next check and stops.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
