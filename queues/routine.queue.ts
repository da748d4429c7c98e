import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';
import { idSchema } from './utterance.schema';

/** One step of a routine, at an offset from the routine's start. */
export const routineStepSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('say'), atMs: z.number().int().min(0).max(86_400_000), text: z.string().min(1).max(2000), voice: z.string().max(32).optional(), priority: z.number().int().min(0).max(9).optional() }),
  z.strictObject({ action: z.literal('scene'), atMs: z.number().int().min(0).max(86_400_000), scene: z.string().min(1).max(100) }),
]);

/** A routine to expand into timed tts and scene jobs. */
export const routineQueue = defineQueue({
  name: 'routine',
  jobName: 'routine.run',
  schema: z.strictObject({
    runId: idSchema,
    channel: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    name: z.string().min(1).max(100),
    steps: z.array(routineStepSchema).min(1).max(500),
  }),
  jobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  jobId: (r) => `routine-${r.runId}`,
});
