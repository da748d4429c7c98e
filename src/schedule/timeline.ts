import { randomBytes } from 'node:crypto';
import type { Redis } from '../redis';
import { stepJobId } from '../../queues/routine.queue';
import type { Payload, Queues } from '../../queues/registry';
import { configured } from '../config/names';
import type { Config } from '../config/schema';
import type { keyspace } from '../redis';

type Keys = ReturnType<typeof keyspace>;
type TimelineJob = Payload<'routine'> & { type: 'timeline' };

/** How long a run's record outlives its last step: long enough to cancel late steps of a fleet that was down. */
const RECORD_MARGIN_MS = 24 * 3600 * 1000;

/** A run of a configured timeline, steps with their offsets; `runId` defaults to a fresh one. */
export function timelineJob(config: Config, timeline: string, channel: string, startedAt: number, runId?: string): TimelineJob {
  const steps = configured(config.schedule.timelines, timeline);
  if (!steps) throw new Error(`no timeline named "${timeline}" (timelines: ${Object.keys(config.schedule.timelines).join(', ') || 'none'})`);
  return {
    type: 'timeline',
    runId: runId ?? `tl-${timeline}-${randomBytes(4).toString('hex')}`.slice(0, 128),
    timeline,
    channel,
    startedAt,
    steps: steps.map(({ at, ...action }) => ({ at, action })),
  };
}

/** How long a timeline runs: its last step's offset. */
export const timelineLength = (steps: readonly { at: number }[]) => Math.max(0, ...steps.map((s) => s.at));

/**
 * Start a timeline run: record it (so it can be listed and cancelled) and hand its start to the
 * routine worker, which schedules each step as a delayed job. Starting the same run id twice
 * starts it once.
 */
export async function startTimeline(redis: Redis, keys: Keys, queues: Queues, job: TimelineJob): Promise<string> {
  const endsAt = job.startedAt + timelineLength(job.steps);
  const key = keys.timelineRun(job.runId);
  await redis
    .multi()
    .hsetnx(key, 'state', 'running')
    .hset(key, { timeline: job.timeline, channel: job.channel, startedAt: job.startedAt, steps: job.steps.length, endsAt })
    .pexpireat(key, endsAt + RECORD_MARGIN_MS)
    .zadd(keys.timelineRuns, endsAt, job.runId)
    .exec();
  await queues.enqueue('routine', job);
  return job.runId;
}

export interface TimelineRun {
  runId: string;
  timeline: string;
  channel: string;
  startedAt: number;
  endsAt: number;
  steps: number;
  state: string;
}

/** Runs that have not ended yet (and those that ended in the last minute). */
export async function listTimelineRuns(redis: Redis, keys: Keys, now = Date.now()): Promise<TimelineRun[]> {
  await redis.zremrangebyscore(keys.timelineRuns, '-inf', now - RECORD_MARGIN_MS);
  const ids = await redis.zrangebyscore(keys.timelineRuns, now - 60_000, '+inf');
  const runs: TimelineRun[] = [];
  for (const runId of ids) {
    const h = await redis.hgetall(keys.timelineRun(runId));
    if (!h.timeline) continue;
    runs.push({ runId, timeline: h.timeline, channel: h.channel ?? '', startedAt: Number(h.startedAt), endsAt: Number(h.endsAt), steps: Number(h.steps), state: h.state ?? 'running' });
  }
  return runs;
}

/** Whether a run was cancelled: its remaining steps are skipped. */
export async function isCancelled(redis: Redis, keys: Keys, runId: string): Promise<boolean> {
  return (await redis.hget(keys.timelineRun(runId), 'state')) === 'cancelled';
}

/**
 * Cancel a run: mark it (a step already taken by a worker sees the mark and does nothing) and
 * delete its steps still waiting. Returns undefined for an unknown run.
 */
export async function cancelTimeline(redis: Redis, keys: Keys, queues: Queues, runId: string): Promise<{ removedSteps: number } | undefined> {
  const key = keys.timelineRun(runId);
  const steps = Number(await redis.hget(key, 'steps'));
  if (!steps) return undefined;
  await redis.hset(key, 'state', 'cancelled');
  const queue = queues.queue('routine');
  let removedSteps = 0;
  for (let i = 0; i < steps; i++) {
    const job = await queue.getJob(stepJobId(runId, i));
    if (job && ['delayed', 'waiting', 'prioritized'].includes(await job.getState())) removedSteps += await queue.remove(job.id!);
  }
  return { removedSteps };
}
