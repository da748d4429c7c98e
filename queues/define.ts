import type { DefaultJobOptions } from 'bullmq';
import type { z } from 'zod';

/**
 * One entry of the job catalog: everything a producer or a worker needs to know about a queue.
 * `perChannel` queues exist once per broadcast channel (the playout), named `<name>-<channel>`.
 */
/**
 * Which fleet process consumes a queue: `worker` (its own `idolcast worker <queue>` process),
 * `ingest` (the chat process) or `broadcast` (the channel's broadcaster).
 */
export type ProcessKind = 'worker' | 'ingest' | 'broadcast';

export interface QueueDefinition<S extends z.ZodType = z.ZodType, P extends ProcessKind = ProcessKind> {
  /** BullMQ queue name. */
  name: string;
  /** The process that runs this queue's handler (workers/<name>.worker.ts). */
  process: P;
  /** Job name inside the queue, `domain.action`. */
  jobName: string;
  /** Payload schema: validated at enqueue and again by the worker. */
  schema: S;
  /** Defaults for every job of the queue (attempts, backoff, bounded retention). */
  jobOptions: DefaultJobOptions;
  /** A deterministic job id where duplicates must collapse (BullMQ ignores an add with a known id); undefined: BullMQ picks one. */
  jobId?: (payload: z.infer<S>) => string | undefined;
  /** Queue exists once per channel; the payload's `channel` picks it. */
  perChannel?: boolean;
}

export function defineQueue<S extends z.ZodType, P extends ProcessKind>(def: QueueDefinition<S, P>): QueueDefinition<S, P> {
  return def;
}

/** Bounded retention: Redis memory stays flat on a 24/7 run. */
export const keepCompleted = { age: 3600, count: 1000 } as const;
export const keepFailed = { age: 7 * 24 * 3600, count: 5000 } as const;

/**
 * idolcast priorities run 0 (lowest) … 9 (highest, e.g. paid events); BullMQ's run 1 (highest)
 * upward. Every job of a prioritised queue gets one, so ordering is never mixed with FIFO jobs.
 */
export function bullPriority(priority: number): number {
  return 10 - Math.max(0, Math.min(9, Math.round(priority)));
}
