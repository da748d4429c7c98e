import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { programmeAction } from '../../queues/routine.queue';
import { avatarChange } from '../../queues/scene.queue';
import { clock, durationMs, durationText } from './fields';

/** Why a cron pattern cannot be used, or undefined when it can. */
export function cronProblem(pattern: string, tz: string): string | undefined {
  try {
    CronExpressionParser.parse(pattern, { tz, strict: false });
    return undefined;
  } catch (err) {
    return `not a valid cron pattern: ${(err as Error).message}`;
  }
}

/** What a scheduled routine does when it fires. */
const routineActionSchema = z.union(programmeAction.options, { error: 'an action with one of: say, pool, scene, avatar, timeline, maintenance' });

const routineSchema = z
  .strictObject({
    /** A cron pattern (5 or 6 fields), in `tz`… */
    cron: z.string().optional(),
    tz: z.string().optional(),
    /** …or a fixed interval. */
    every: durationText.optional(),
    action: routineActionSchema,
    channel: z.string().optional(),
    enabled: z.boolean().default(true),
    /** Speak even inside quiet hours. */
    ignoreQuietHours: z.boolean().default(false),
  })
  .refine((r) => (r.cron === undefined) !== (r.every === undefined), 'give exactly one of cron or every');

const timelineStepSchema = z.union([
  z.strictObject({ at: durationText, say: z.string().min(1).max(2000), voice: z.string().optional(), priority: z.number().int().min(0).max(9).optional() }),
  z.strictObject({ at: durationText, pool: z.string().min(1), voice: z.string().optional(), priority: z.number().int().min(0).max(9).optional() }),
  z.strictObject({ at: durationText, scene: z.string().min(1).max(100) }),
  z.strictObject({ at: durationText, avatar: avatarChange }),
], { error: 'a step with `at` and one of: say, pool, scene, avatar' });

export const scheduleSchema = z
  .strictObject({
    /** Time zone of cron patterns that name none. */
    timezone: z.string().default('UTC'),
    /**
     * Ticks missed while the fleet was down: BullMQ keeps one pending firing per routine, so only
     * the latest missed one is left; it runs once if it is at most this late, else it is dropped.
     */
    lateGraceMs: durationMs(600_000),
    /** Lines from routines are not spoken between these times (in `timezone`), unless a routine ignores them. */
    quietHours: z.strictObject({ start: clock, end: clock }).optional(),
    /** Named lists of lines; a pool gives every line once before repeating any. */
    phrasePools: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.array(z.string().min(1).max(2000)).min(1)).default({}),
    /** Scripted sequences: steps at offsets from the start. */
    timelines: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.array(timelineStepSchema).min(1).max(500)).default({}),
    /** What fires when: each routine becomes one BullMQ job scheduler. */
    routines: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a routine name: letters, digits, _ -'), routineSchema).default({}),
  })
  .prefault({});
