import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';

/** A desired scene state of a channel; applying it twice is harmless. */
export const sceneQueue = defineQueue({
  name: 'scene',
  jobName: 'scene.apply',
  schema: z
    .strictObject({
      channel: z.string().regex(/^[a-z0-9_-]{1,32}$/),
      /** Program scene to show. */
      scene: z.string().min(1).max(100).optional(),
      /** Sources to show (true) or hide (false). */
      sources: z.record(z.string().min(1).max(100), z.boolean()).optional(),
    })
    .refine((s) => s.scene !== undefined || s.sources !== undefined, 'a scene or sources to change'),
  jobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
});
