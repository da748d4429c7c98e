import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';
import { utteranceSchema } from './utterance.schema';

/** Playout-ready speech of one channel, consumed in priority order by its broadcaster. */
export const playoutQueue = defineQueue({
  name: 'playout',
  process: 'broadcast',
  jobName: 'playout.air',
  perChannel: true,
  // Queued as soon as the first part is encoded; the broadcaster plays the parts in order as they come.
  schema: utteranceSchema.extend({ parts: z.number().int().min(1).max(1000), sampleRate: z.number().int() }),
  // A broadcaster killed mid-line replays it once on the standby; never more.
  jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 100 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  jobId: (u) => u.utteranceId,
});
