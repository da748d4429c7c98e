import { handlers } from '../../workers';
import { scheduleIdleTalk } from '../ai/idle';
import { isConfigured } from '../config/names';
import { DegradationMonitor } from '../degradation';
import { onShutdown } from '../lifecycle';
import { bootProcess } from '../process';
import { startQueueWorker } from '../queue-worker';
import { syncSchedules } from '../schedule/schedules';
import type { ChatEvent } from '../../queues/chat-event.schema';
import type { ChatSource } from './chat-source';
import { IngestPipeline } from './ingest-pipeline';
import { createSources } from './sources';

/**
 * The ingest process: reads every configured chat platform and the local `chat` queue, runs each
 * event through the chat handler (workers/chat.worker.ts) into the command processor (dedupe, filter, commands, shedding) and enqueues what
 * follows. Also keeps the fleet's housekeeping and the config's programme scheduled.
 */
export async function runIngest(): Promise<void> {
  let sources: ChatSource[] = [];
  const ctx = bootProcess('ingest', { blocking: true, detail: () => ({ sources: sources.map((s) => s.status()) }) });
  const { config, log, queues, keys } = ctx;

  // BullMQ's job schedulers are the only clock: one sweep a minute, whatever the replica count.
  await queues.schedule('maintenance', 'maintenance-sweep', { every: 60_000 }, { task: 'sweep' });
  // Idle talk ticks on the same clock (the reply worker runs each tick).
  await scheduleIdleTalk(queues, config);
  // The programme: the config's routines become exactly the job schedulers in Redis.
  await syncSchedules(queues, config, log);

  const byPlatform = new Map<string, ChatSource>();
  // Sampled on its own clock too, so the level falls (and is shared) while chat is quiet.
  const degradation = new DegradationMonitor(ctx);
  degradation.start();
  const pipeline = new IngestPipeline({
    ...ctx,
    degradation,
    reply: async (e: ChatEvent, text: string) => {
      await ctx.publish(isConfigured(config.channels, e.channel) ? e.channel : config.defaultChannel, { type: 'chat-reply', to: e.user.displayName, text });
      const source = byPlatform.get(e.platform);
      if (source?.reply && e.room) await source.reply(e.room, text);
    },
  });

  // Local chat (`POST /api/chat`) arrives on the `chat` queue; platform chat straight from its
  // source, in this process. Both go through the chat handler into the one pipeline.
  const chat = (event: ChatEvent) => handlers.chat(event, { pipeline });
  const { stop: stopLocal } = startQueueWorker(ctx, 'chat', { concurrency: 64 }, chat);

  sources = createSources(ctx);
  for (const source of sources) {
    byPlatform.set(source.platform, source);
    // A source's events are accepted in the background; a failed batch is logged with its cause.
    await source.start((event) => void chat(event).catch((err: Error) => log.error({ platform: event.platform, messageId: event.id, err: err.message }, 'chat event could not be processed')));
  }
  ctx.heartbeat.start();
  log.info({ sources: sources.map((s) => s.platform), dedupe: `${keys.seenSlots}<slot>` }, 'ingest ready');

  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    await Promise.all(sources.map((s) => s.stop()));
    await stopLocal();
    await pipeline.drain();
    degradation.stop();
    await ctx.close();
  });
}
