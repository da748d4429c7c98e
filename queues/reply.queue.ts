import { z } from 'zod';
import { defineQueue, keepFailed } from './define';

/**
 * "A channel has reply candidates": the reply worker (workers/reply.worker.ts) takes the best one
 * through the reply policy. The job carries no chat text (the candidates wait in Redis), so a busy
 * chat makes one job per channel and time window, not one per message.
 */
export const replyQueue = defineQueue({
  name: 'reply',
  process: 'worker',
  jobName: 'reply.generate',
  schema: z.strictObject({
    channel: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    /** The time window (ms since epoch, rounded down) the job was made in: part of its id. */
    window: z.number().int().nonnegative(),
  }),
  // Completed jobs go at once (count 0): a message arriving after its window's job finished still gets one.
  jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: { count: 0 }, removeOnFail: keepFailed },
  // One job per channel and window while it waits or runs: BullMQ ignores an add with a known id.
  jobId: (p) => `reply-${p.channel}-${p.window}`,
});
