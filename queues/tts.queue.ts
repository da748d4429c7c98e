import { defineQueue, keepCompleted, keepFailed } from './define';
import { utteranceSchema } from './utterance.schema';

/** Text to synthesise into speech. */
export const ttsQueue = defineQueue({
  name: 'tts',
  process: 'worker',
  jobName: 'tts.synthesize',
  schema: utteranceSchema,
  jobOptions: { attempts: 4, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  jobId: (u) => u.utteranceId,
});
