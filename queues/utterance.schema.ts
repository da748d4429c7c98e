import { z } from 'zod';

/** An id safe as a Redis key part and a BullMQ job id (no `:`). */
export const idSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'an id of letters, digits, _ . -');

/** What every stage of one spoken line carries along: who asked, what, and since when. */
export const utteranceSchema = z.strictObject({
  utteranceId: idSchema,
  channel: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  /** The text to speak, already normalised by the command processor or the CLI. */
  text: z.string().min(1).max(5000),
  /** Voice name from the config. */
  voice: z.string().min(1).max(32),
  /** 0 (lowest) … 9 (highest). */
  priority: z.number().int().min(0).max(9),
  /** When idolcast accepted the request (ms since epoch). */
  acceptedAt: z.number().int().nonnegative(),
  /**
   * Accept order, stamped when the line is first queued (a fleet-wide counter). Lines are voiced
   * in parallel and finish out of order; the playout airs equal-priority lines in this order.
   */
  order: z.number().int().nonnegative().optional(),
  /** Past this (ms since epoch) the line is stale and dropped instead of spoken late; none: never stale. */
  expiresAt: z.number().int().nonnegative().optional(),
  /** A viewer's chat line (a plain message or a viewer's command): at degradation level 3 it is voiced by a cheaper voice. Paid, moderator, operator and routine lines never are. */
  degradable: z.boolean().optional(),
  /** The emotion an AI sentence was tagged with (neutral, happy, sad, angry, surprised, thinking): for the overlay and the avatar. */
  emotion: z.enum(['neutral', 'happy', 'sad', 'angry', 'surprised', 'thinking']).optional(),
  /** Who asked: for captions, logs and (later) moderation. */
  origin: z.strictObject({ platform: z.string().max(16), user: z.string().max(64) }),
});
export type Utterance = z.infer<typeof utteranceSchema>;

/** `origin.platform` of the idol's own words (replies, idle talk): the lines the broadcast delay holds and a dump drops. */
export const AI_PLATFORM = 'ai';

/** Whether a line is of AI origin. */
export const isAiLine = (u: Pick<Utterance, 'origin'>): boolean => u.origin.platform === AI_PLATFORM;

/** Raw PCM format metadata. */
export const pcmFormatSchema = z.strictObject({
  sampleRate: z.number().int().min(8000).max(96000),
  channels: z.number().int().min(1).max(2),
});
export type PcmFormat = z.infer<typeof pcmFormatSchema>;
