import type { Job } from 'bullmq';
import type { Payload } from '../queues/registry';
import { handlers } from '../workers';
import type { WorkerKind } from '../queues/catalog';
import { aiParts } from './ai/reply-parts';
import { LOCAL_ENGINE } from './config/schema';
import type { Deps } from './deps';
import { onShutdown } from './lifecycle';
import { bootProcess } from './process';
import { startQueueWorker } from './queue-worker';
import { ObsDriver } from './scene/obs';
import { parseState } from './scene/state';
import { EspeakEngine } from './tts/espeak.engine';
import { remoteEngines } from './tts/remote-engines';
import { SpeechService } from './tts/speech-service';

/**
 * When a job was meant to run. A job scheduler's firing carries its tick in its id
 * (`repeat:<scheduler>:<ms>`); BullMQ resets a delayed job's delay once it is due, so that is
 * the reliable source. Other jobs: when they were added, plus the delay they asked for.
 */
function scheduledFor(job: Job): number {
  const tick = /^repeat:.+:(\d+)$/.exec(job.id ?? '');
  return tick ? Number(tick[1]) : job.timestamp + (job.opts.delay ?? 0);
}

/**
 * Run one worker kind as a process: a BullMQ Worker on the kind's queue calling its handler
 * from workers/, a heartbeat, and a graceful SIGTERM (in-flight jobs finish or go back).
 */
export async function runWorker(kind: WorkerKind, concurrencyOverride?: number): Promise<void> {
  const counts = { active: 0, processed: 0, failed: 0 };
  const ctx = bootProcess(`worker-${kind}`, { blocking: true, detail: () => ({ queue: kind, concurrency, ...counts }) });
  const { config, log, metrics } = ctx;
  const concurrency = concurrencyOverride ?? config.workers.concurrency[kind];
  const engines = { [LOCAL_ENGINE]: new EspeakEngine(config.tts.espeak.binary, config.tts.espeak.timeoutMs), ...remoteEngines(config.tts.engines) };
  const speech = new SpeechService({ ...ctx, engines });
  // One OBS connection per scene worker process, shared by its jobs.
  const obsChannel = config.obs.channel ?? config.defaultChannel;
  const obs =
    kind === 'scene' && config.obs.enabled
      ? new ObsDriver({ ...config.obs, log: log.child({ obs: obsChannel }), metrics, desired: async () => parseState(await ctx.redis.hgetall(ctx.keys.scene(obsChannel))) })
      : undefined;
  obs?.start();
  const ai = kind === 'reply' ? aiParts(ctx) : undefined;
  const handler = handlers[kind] as (payload: Payload<WorkerKind>, deps: Deps) => Promise<unknown>;

  const { stop } = startQueueWorker(ctx, kind, { concurrency }, async (payload, job) => {
    const jobLog = log.child({ queue: kind, job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
    const started = performance.now();
    counts.active++;
    try {
      const result = await handler(payload, { ...ctx, log: jobLog, speech, obs, ai, attempt: job.attemptsMade + (job.stalledCounter ?? 0) + 1, job: { id: job.id ?? '', scheduledFor: scheduledFor(job) } });
      metrics.jobDuration.observe({ queue: kind, status: 'completed' }, (performance.now() - started) / 1000);
      counts.processed++;
      return result;
    } catch (err) {
      metrics.jobDuration.observe({ queue: kind, status: 'failed' }, (performance.now() - started) / 1000);
      counts.failed++;
      jobLog.warn({ err: (err as Error).message }, 'job failed');
      throw err;
    } finally {
      counts.active--;
    }
  });
  ctx.heartbeat.start();
  log.info({ kind, concurrency }, 'worker ready');

  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    await stop();
    await obs?.stop();
    ai?.shutdown();
    speech.shutdown();
    await ctx.close();
  });
}
