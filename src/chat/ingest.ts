import { onShutdown } from '../lifecycle';
import { bootProcess } from '../process';
import { startQueueWorker } from '../queue-worker';
import { processChat } from './command-processor';

/**
 * The ingest process: takes accepted chat events off the chat queue, runs the command
 * processor and enqueues what follows. Also keeps the fleet's housekeeping scheduled.
 */
export async function runIngest(): Promise<void> {
  let handled = 0;
  const ctx = bootProcess('ingest', { blocking: true, detail: () => ({ handled }) });
  const { config, log, queues, metrics } = ctx;

  // BullMQ's job schedulers are the only clock: one sweep a minute, whatever the replica count.
  await queues.schedule('maintenance', 'maintenance-sweep', { every: 60_000 }, { task: 'sweep' });

  const { stop } = startQueueWorker(ctx, 'chat', { concurrency: 16 }, async (event) => {
    const decision = processChat(event, config);
    metrics.chatDecisions.inc({ platform: event.platform, decision: decision.decision });
    const fields = { platform: event.platform, channel: event.channel, messageId: event.id, user: event.user.login, decision: decision.decision, reason: decision.reason, truncated: decision.truncated };
    if (decision.decision === 'ignored') log.debug(fields, 'chat ignored');
    else log.info(fields, 'chat accepted');
    if (decision.tts.length) await queues.enqueueBulk('tts', decision.tts.map((payload) => ({ payload })));
    handled++;
    return { decision: decision.decision, reason: decision.reason };
  });
  ctx.heartbeat.start();
  log.info('ingest ready');

  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    await stop();
    await ctx.close();
  });
}
