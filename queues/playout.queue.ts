import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';
import { utteranceSchema } from './utterance.schema';

/** Playout-ready speech of one channel, consumed in priority order by its broadcaster. */
export const playoutQueue = defineQueue({
  name: 'playout',
  jobName: 'playout.air',
  perChannel: true,
  schema: utteranceSchema.extend({ durationMs: z.number().int().nonnegative(), sampleRate: z.number().int() }),
  // A broadcaster killed mid-line replays it once on the standby; never more.
  jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 100 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  jobId: (u) => u.utteranceId,
});
