import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';
import { avatarChange } from './scene.queue';
import { idSchema } from './utterance.schema';

const channel = z.string().regex(/^[a-z0-9_-]{1,32}$/);
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const voice = z.string().min(1).max(32).optional();
const priority = z.number().int().min(0).max(9).optional();

/** What one routine firing or timeline step does. Pools and timelines are named; the worker's config holds them. */
export const programmeAction = z.union([
  z.strictObject({ say: z.string().min(1).max(2000), voice, priority }),
  z.strictObject({ pool: name, voice, priority }),
  z.strictObject({ scene: z.string().min(1).max(100) }),
  /** The avatar's expression: carried out as a scene job (checked against the channel's pack there). */
  z.strictObject({ avatar: avatarChange }),
  z.strictObject({ timeline: name }),
  z.strictObject({ maintenance: z.enum(['sweep']) }),
]);
export type ProgrammeAction = z.infer<typeof programmeAction>;

/**
 * The programme. Three kinds of job:
 * - `routine`: one firing of a routine's job scheduler; its action is the scheduler's template,
 *   so a sync that edits a routine changes what the next firing does.
 * - `timeline`: the start of a timeline run; the worker turns it into one delayed `step` job per
 *   step, with ids derived from the run, so a retried start never schedules a step twice.
 * - `step`: one step of a run, carried in full so a config edit mid-run changes nothing.
 */
export const routineQueue = defineQueue({
  name: 'routine',
  process: 'worker',
  jobName: 'routine.run',
  schema: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('routine'), name, channel, action: programmeAction, ignoreQuietHours: z.boolean() }),
    z.strictObject({ type: z.literal('timeline'), runId: idSchema, timeline: name, channel, startedAt: z.number().int().nonnegative(), steps: z.array(z.strictObject({ at: z.number().int().min(0), action: programmeAction })).min(1).max(500) }),
    z.strictObject({ type: z.literal('step'), runId: idSchema, timeline: name, channel, index: z.number().int().min(0), of: z.number().int().min(1), at: z.number().int().min(0), action: programmeAction }),
  ]),
  jobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
  // Scheduler firings get their ids from BullMQ (one per tick); runs and steps from the run id.
  jobId: (r) => (r.type === 'timeline' ? r.runId : r.type === 'step' ? stepJobId(r.runId, r.index) : undefined),
});

/** The job id (and utterance id) of one step of a timeline run. */
export function stepJobId(runId: string, index: number): string {
  return `${runId}-s${index}`;
}
