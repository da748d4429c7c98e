import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';

/**
 * The built-in avatar's expression, as desired state: one its pack offers (checked by the worker),
 * shown for `holdMs` (default: the channel's `expressionResetMs`), kept in Redis like `!emote`'s.
 */
export const avatarChange = z.strictObject({
  expression: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/, 'an expression name: letters, digits, - and _ (at most 48)'),
  holdMs: z.number().int().min(1).max(24 * 3600 * 1000).optional(),
});

/** A desired scene state of a channel; applying it twice is harmless. */
export const sceneQueue = defineQueue({
  name: 'scene',
  process: 'worker',
  jobName: 'scene.apply',
  schema: z
    .strictObject({
      channel: z.string().regex(/^[a-z0-9_-]{1,32}$/),
      /** Program scene to show. */
      scene: z.string().min(1).max(100).optional(),
      /** Sources to show (true) or hide (false). */
      sources: z.record(z.string().min(1).max(100), z.boolean()).optional(),
      /** Text inputs to set, by input name. */
      texts: z.record(z.string().min(1).max(100), z.string().max(2000)).optional(),
      /** Media inputs to play again from the start (an action, not kept as state). */
      media: z.array(z.string().min(1).max(100)).max(20).optional(),
      /** Filters to turn on or off. */
      filters: z.array(z.strictObject({ source: z.string().min(1).max(100), filter: z.string().min(1).max(100), enabled: z.boolean() })).max(50).optional(),
      /** Whether OBS should be streaming. */
      streaming: z.boolean().optional(),
      /** The built-in avatar (in the broadcaster's picture). */
      avatar: avatarChange.optional(),
    })
    .refine(
      (s) => [s.scene, s.sources, s.texts, s.media, s.filters, s.streaming, s.avatar].some((x) => x !== undefined),
      'something to change: scene, sources, texts, media, filters, streaming or avatar',
    ),
  jobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
});
