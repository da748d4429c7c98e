import { stepJobId, type ProgrammeAction } from '../queues/routine.queue';
import type { Payload } from '../queues/registry';
import { currentVoice } from '../src/channel-state';
import { normaliseText } from '../src/chat/normalise';
import { configured, isConfigured } from '../src/config/names';
import type { Deps } from '../src/deps';
import { inQuietHours } from '../src/schedule/clock';
import { pickPhrase } from '../src/schedule/phrase-pool';
import { speaks } from '../src/schedule/preview';
import { isCancelled, startTimeline, timelineJob } from '../src/schedule/timeline';

/** Routine lines sit between moderator actions (6–9) and plain chat (≤4) unless the config says otherwise. */
const ROUTINE_PRIORITY = 5;

/**
 * The programme: a routine firing from its job scheduler, the start of a timeline run, or one
 * step of a run. Every job it enqueues has an id derived from the firing or the step, so a retry,
 * or a step taken over from a worker that was killed, never speaks or switches twice.
 */
export async function handle(r: Payload<'routine'>, deps: Deps) {
  if (r.type === 'routine') return fireRoutine(r, deps);
  if (r.type === 'timeline') return expandTimeline(r, deps);
  return runStep(r, deps);
}

async function fireRoutine(r: Payload<'routine'> & { type: 'routine' }, deps: Deps) {
  const { schedule } = deps.config;
  const now = Date.now();
  const late = now - deps.job.scheduledFor;
  const outcome = (o: string, extra?: object) => {
    deps.metrics.programme.inc({ name: r.name, outcome: o });
    deps.log.info({ routine: r.name, outcome: o, lateMs: late, ...extra }, `routine ${o}`);
    return { outcome: o, ...extra };
  };
  // Only the latest tick missed while the fleet was down is left; past the grace it is dropped
  // (a morning greeting at noon is worse than none). Housekeeping always runs.
  if (late > schedule.lateGraceMs && !('maintenance' in r.action)) return outcome('late');
  if (speaks(r.action) && !r.ignoreQuietHours && inQuietHours(now, schedule.quietHours, schedule.timezone)) return outcome('quiet');
  // A scheduler firing's job id is unique per tick: what it starts is named after it.
  const firingId = `rt-${r.name}-${deps.job.scheduledFor}`;
  const did = await perform(r.action, r.channel, firingId, `routine:${r.name}`, deps);
  return outcome('done', did);
}

async function expandTimeline(r: Payload<'routine'> & { type: 'timeline' }, deps: Deps) {
  if (await isCancelled(deps.redis, deps.keys, r.runId)) return { outcome: 'cancelled' };
  const now = Date.now();
  const steps = r.steps.map((s, index) => ({
    payload: { type: 'step' as const, runId: r.runId, timeline: r.timeline, channel: r.channel, index, of: r.steps.length, at: s.at, action: s.action },
    opts: { delay: Math.max(0, r.startedAt + s.at - now) },
  }));
  // One round trip, ids from the run: expanding again after a crash adds nothing new.
  await deps.queues.enqueueBulk('routine', steps);
  deps.log.info({ timeline: r.timeline, runId: r.runId, steps: steps.length }, 'timeline started');
  return { outcome: 'started', steps: steps.length };
}

async function runStep(r: Payload<'routine'> & { type: 'step' }, deps: Deps) {
  const name = `timeline:${r.timeline}`;
  if (await isCancelled(deps.redis, deps.keys, r.runId)) {
    deps.metrics.programme.inc({ name, outcome: 'cancelled' });
    return { outcome: 'cancelled' };
  }
  const id = stepJobId(r.runId, r.index);
  const did = await perform(r.action, r.channel, id, name, deps);
  deps.metrics.programme.inc({ name, outcome: 'done' });
  deps.log.info({ timeline: r.timeline, runId: r.runId, step: r.index + 1, of: r.of, at: r.at, ...did }, 'timeline step');
  return { outcome: 'done', ...did };
}

/** Carry out one action; `id` names what it enqueues, so doing it twice does it once. */
async function perform(action: ProgrammeAction, channel: string, id: string, who: string, deps: Deps): Promise<Record<string, string>> {
  const { config, queues } = deps;
  if ('say' in action || 'pool' in action) {
    const line =
      'say' in action
        ? action.say
        : await pickPhrase(deps.redis, deps.keys, action.pool, configured(config.schedule.phrasePools, action.pool) ?? [`(phrase pool ${action.pool} is missing)`]);
    const { text } = normaliseText(line, config.tts.maxTextLength);
    const voice = action.voice === undefined ? await currentVoice(deps, channel) : isConfigured(config.voices, action.voice) ? action.voice : config.defaultVoice;
    await queues.enqueue('tts', { utteranceId: id, channel, text, voice, priority: action.priority ?? ROUTINE_PRIORITY, acceptedAt: Date.now(), origin: { platform: 'programme', user: who.slice(0, 64) } });
    return { said: text };
  }
  if ('scene' in action) {
    await queues.enqueue('scene', { channel, scene: action.scene }, { jobId: id });
    return { scene: action.scene };
  }
  if ('avatar' in action) {
    await queues.enqueue('scene', { channel, avatar: action.avatar }, { jobId: id });
    return { expression: action.avatar.expression };
  }
  if ('timeline' in action) {
    const runId = await startTimeline(deps.redis, deps.keys, queues, timelineJob(config, action.timeline, channel, Date.now(), `${id}-tl`));
    return { timeline: action.timeline, runId };
  }
  await queues.enqueue('maintenance', { task: action.maintenance }, { jobId: id });
  return { maintenance: action.maintenance };
}
