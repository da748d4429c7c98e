import { chatEventSchema } from '../src/chat/chat-event';
import { defineQueue, keepCompleted, keepFailed } from './define';

/**
 * Chat posted through the control API (`POST /api/chat`), waiting for the command processor in
 * the ingest process. Platform chat (Twitch, YouTube, TikTok) does not pass through this queue:
 * each source hands its events to the ingest pipeline directly, in the ingest process
 * (src/chat/ingest.ts).
 */
export const chatQueue = defineQueue({
  name: 'chat',
  jobName: 'chat.process',
  schema: chatEventSchema,
  jobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 200 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  // The event's own id is the job id, so an event enqueued twice is processed once.
  jobId: (e) => `${e.platform}-${e.channel}-${e.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
});
