import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { queueName, validatePayload, type Payload, type QueueKey } from '../queues/registry';
import { redisTarget, type ProcessContext } from './process';
import { createRedis } from './redis';

/**
 * A BullMQ Worker on a catalog queue with idolcast's settings. Each job's payload is checked
 * against the catalog schema first: one that can never pass fails for good (no retries).
 * `stop` is the graceful part of SIGTERM: stop taking jobs, wait for those in flight up to the
 * shutdown timeout (past it they stay locked and another replica takes them over when the lock
 * expires), then release the worker's connection.
 */
export function startQueueWorker<K extends QueueKey>(
  ctx: ProcessContext,
  key: K,
  opts: { concurrency: number; channel?: string },
  processor: (payload: Payload<K>, job: Job, token?: string) => Promise<unknown>,
) {
  const { config, log } = ctx;
  const queue = queueName(key, opts.channel);
  // BullMQ blocks on this connection waiting for jobs, so it is the worker's alone.
  const connection = createRedis(redisTarget(config), { forWorker: true, name: `${ctx.id}-${queue}` });
  const worker = new Worker(
    queue,
    async (job, token) => {
      let payload: Payload<K>;
      try {
        payload = validatePayload(key, job.data);
      } catch (err) {
        throw new UnrecoverableError((err as Error).message);
      }
      return processor(payload, job, token);
    },
    {
      connection,
      prefix: config.redis.prefix,
      concurrency: opts.concurrency,
      lockDuration: config.workers.lockDurationMs,
      stalledInterval: config.workers.stalledIntervalMs,
      maxStalledCount: 2,
    },
  );
  worker.on('error', (err) => log.warn({ queue, err: err.message }, 'worker error'));
  const stop = async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([worker.close(), new Promise((r) => (timer = setTimeout(r, config.workers.shutdownTimeoutMs)))]);
    clearTimeout(timer);
    await connection.quit().catch(() => connection.disconnect());
  };
  return { worker, stop };
}
