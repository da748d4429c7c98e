import type { Payload } from '../queues/registry';
import type { IngestPipeline } from '../src/chat/ingest-pipeline';

/** What the chat handler gets from the ingest process (src/chat/ingest.ts). */
export interface ChatDeps {
  /** The command processor: exactly-once dedupe, filter, commands, shedding, then the jobs that follow. */
  pipeline: Pick<IngestPipeline, 'accept'>;
}

/**
 * One chat event into the command processor, in the ingest process. Two ways lead here: local
 * chat (`POST /api/chat`) through the `chat` queue, and platform chat (Twitch, YouTube, TikTok)
 * straight from its source in the same process, without a queue hop (the pipeline's dedupe makes
 * both exactly-once; see queues/chat.queue.ts).
 */
export function handle(event: Payload<'chat'>, deps: ChatDeps) {
  return deps.pipeline.accept(event);
}
