import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineQueue, keepFailed } from './define';

const channel = z.string().regex(/^[a-z0-9_-]{1,32}$/);

/**
 * The AI's jobs, run by the reply worker (workers/reply.worker.ts), which holds the model chain:
 * - `{channel, window}`: "a channel has reply candidates"; the worker takes the best one through
 *   the reply policy. It carries no chat text (the candidates wait in Redis), so a busy chat
 *   makes one job per channel and time window, not one per message.
 * - `{task: 'idle'}`: one tick of idle talk (a job scheduler's firing), for every channel.
 * - `{task: 'summary', channel, viewer}`: update a viewer's memory summary from their waiting
 *   lines; one job per viewer while it waits (the lines wait in Redis, bounded).
 */
export const replyQueue = defineQueue({
  name: 'reply',
  process: 'worker',
  jobName: 'reply.generate',
  schema: z.union([
    z.strictObject({
      channel,
      /** The time window (ms since epoch, rounded down) the job was made in: part of its id. */
      window: z.number().int().nonnegative(),
    }),
    z.strictObject({ task: z.literal('idle') }),
    z.strictObject({ task: z.literal('summary'), channel, viewer: z.string().min(1).max(200) }),
  ]),
  // Completed jobs go at once (count 0): a message arriving after its window's job finished still gets one.
  jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: { count: 0 }, removeOnFail: keepFailed },
  // One job per channel and window (or per viewer's summary) while it waits or runs: BullMQ
  // ignores an add with a known id. A viewer id may hold any character: hashed into the id.
  jobId: (p) => ('window' in p ? `reply-${p.channel}-${p.window}` : p.task === 'summary' ? `summary-${p.channel}-${createHash('sha1').update(p.viewer).digest('hex').slice(0, 20)}` : undefined),
});

/** Summary jobs run after reply jobs (BullMQ: jobs without a priority first): a reply is on air, notes can wait. */
export const SUMMARY_PRIORITY = 10;
