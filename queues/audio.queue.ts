import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';
import { pcmFormatSchema, utteranceSchema } from './utterance.schema';

/** Synthesised speech (raw engine PCM in Redis) to encode for the channel's playout. */
export const audioQueue = defineQueue({
  name: 'audio',
  process: 'worker',
  jobName: 'audio.encode',
  schema: utteranceSchema.extend({
    /** Which part of the line this is (0-based), of how many: long lines are voiced part by part. */
    part: z.number().int().min(0).max(999),
    parts: z.number().int().min(1).max(1000),
    engine: z.string().max(32),
    format: pcmFormatSchema,
  }),
  jobOptions: { attempts: 4, backoff: { type: 'exponential', delay: 300 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  jobId: (u) => `${u.utteranceId}-p${u.part}`,
});
