import { chatEventSchema } from './chat-event.schema';
import { defineQueue, keepCompleted, keepFailed } from './define';

/**
 * Local chat (`POST /api/chat` on the control server), waiting for the ingest process's chat
 * handler (workers/chat.worker.ts) and the command processor behind it. Platform chat (Twitch,
 * YouTube, TikTok) does not come through this queue: its sources run inside the ingest process
 * and hand events to the same handler directly, saving a Redis round trip per message on the
 * busiest path; the command processor's dedupe (`seen` keys) processes a message once either way.
 */
export const chatQueue = defineQueue({
  name: 'chat',
  process: 'ingest',
  jobName: 'chat.process',
  schema: chatEventSchema,
  jobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 200 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  // The event's own id is the job id, so an event enqueued twice is processed once.
  jobId: (e) => `${e.platform}-${e.channel}-${e.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
});
