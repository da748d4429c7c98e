import { z } from 'zod';

/** Roles a chat user can hold, across platforms. */
export const ROLES = ['broadcaster', 'moderator', 'vip', 'subscriber', 'member'] as const;
export type Role = (typeof ROLES)[number];

/**
 * One chat event, whatever platform it came from. Adapters normalise into this shape; the
 * command processor and everything after it only ever see this.
 */
export const chatEventSchema = z.strictObject({
  platform: z.enum(['local', 'twitch', 'youtube', 'tiktok']),
  /** The idolcast channel this event is for (a key of `channels` in the config). */
  channel: z.string().min(1).max(64),
  /** The platform's own room: Twitch channel login, YouTube live chat id, TikTok user (for dedupe and replies). */
  room: z.string().min(1).max(128).optional(),
  /** The platform's own message id: the dedupe key. */
  id: z.string().min(1).max(128),
  user: z.strictObject({
    id: z.string().min(1).max(128),
    login: z.string().min(1).max(64),
    displayName: z.string().min(1).max(64),
    roles: z.array(z.enum(ROLES)).default([]),
  }),
  kind: z.enum(['message', 'follow', 'subscription', 'raid', 'gift', 'superchat']).default('message'),
  /** Raw text as received; bounded here, normalised and cut by the command processor. */
  text: z.string().max(64 * 1024),
  emotes: z.array(z.strictObject({ id: z.string(), start: z.number().int(), end: z.number().int() })).default([]),
  paid: z.strictObject({ amount: z.number().nonnegative(), currency: z.string().min(1).max(16) }).optional(),
  /** When the platform says the message was sent (ms since epoch). */
  timestamp: z.number().int().nonnegative(),
  /** When idolcast accepted it (ms since epoch): the start of every latency figure. */
  acceptedAt: z.number().int().nonnegative(),
});
export type ChatEvent = z.infer<typeof chatEventSchema>;
