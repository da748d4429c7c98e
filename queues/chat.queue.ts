import { chatEventSchema } from './chat-event.schema';
import { defineQueue, keepCompleted, keepFailed } from './define';

/** Chat events accepted from a source, waiting for the command processor in the ingest process. */
export const chatQueue = defineQueue({
  name: 'chat',
  process: 'ingest',
  jobName: 'chat.process',
  schema: chatEventSchema,
  jobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 200 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  // A platform message is processed once, even if two sources (or a retrying client) deliver it.
  jobId: (e) => `${e.platform}-${e.channel}-${e.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
});
