import { z } from 'zod';

/*
 * The pub/sub side of the catalog. Live events go out on `<prefix>:events:<channel>` to the page,
 * the overlay, `idolcast watch` and the control server's event streams; operator controls go to
 * the channel's broadcaster on `<prefix>:control:<channel>`. The page and the overlay
 * (src/control/public) switch on the same `type` names.
 */

const utterance = { utteranceId: z.string().max(300), text: z.string().max(5000) };
const speaker = { ...utterance, voice: z.string().max(32), user: z.string().max(64) };
const paid = { amount: z.number().nonnegative().optional(), currency: z.string().max(16).optional() };

/** Every live event a fleet member publishes (`ctx.publish` takes only these; `at` is added on the way out). */
export const liveEventSchema = z.discriminatedUnion('type', [
  /** The line is voiced and waiting for air (audio worker). */
  z.strictObject({ type: z.literal('speech-ready'), ...utterance }),
  /** Viewers start hearing the line (broadcaster; stream clock, ms). */
  z.strictObject({ type: z.literal('onair-start'), ...speaker, startAt: z.number() }),
  /**
   * Viewers stopped hearing the line. `interrupted`: it did not finish airing (the broadcaster lost
   * its lease or the channel): it is aired again, so it does not count as aired.
   */
  z.strictObject({ type: z.literal('onair-end'), ...speaker, startAt: z.number().optional(), endAt: z.number().optional(), interrupted: z.literal(true).optional() }),
  /** A platform event (follow, sub, raid, gift, Super Chat) for the overlay's banner queue (ingest). */
  z.strictObject({ type: z.literal('banner'), kind: z.enum(['follow', 'sub', 'raid', 'gift', 'superchat']), user: z.string().max(64), text: z.string().max(5000).optional(), ...paid }),
  /** A paid chat message for the overlay (ingest). */
  z.strictObject({ type: z.literal('highlight'), user: z.string().max(64), text: z.string().max(5000), ...paid }),
  /** The program scene changed (scene worker); null: none known. */
  z.strictObject({ type: z.literal('scene'), scene: z.string().max(100).nullable() }),
  /** The channel's AI lines were dumped (src/ai/delay.ts): `held` lines taken from the broadcast delay. */
  z.strictObject({ type: z.literal('ai-dumped'), by: z.string().max(200), held: z.number().int().nonnegative() }),
  /**
   * The overlay's avatar (broadcaster, only with overlay.avatar on): the mouth quantised from the
   * speech on air and the expression, sent when either changes (rate-limited) and every 2 s;
   * `showAt`: when viewers get it (stream clock, ms, like onair-start's startAt).
   */
  z.strictObject({ type: z.literal('avatar'), mouth: z.enum(['closed', 'half', 'open']), expression: z.string().max(64), showAt: z.number() }),
  /** A command's answer to a viewer (ingest), also sent to the platform's chat. */
  z.strictObject({ type: z.literal('chat-reply'), to: z.string().max(64), text: z.string().max(5000) }),
]);
export type LiveEvent = z.infer<typeof liveEventSchema>;

/**
 * The fields of a live event that readers act on; other event types and fields pass through
 * (readers parse what anyone who can reach Redis sent, so they are lenient where the publishers
 * are strict).
 */
export const channelEventSchema = z.looseObject({
  type: z.string().max(100),
  utteranceId: z.string().max(300).optional(),
  startAt: z.number().optional(),
  endAt: z.number().optional(),
  interrupted: z.boolean().optional(),
});
export type ChannelEvent = z.infer<typeof channelEventSchema>;

/** Operator controls on `<prefix>:control:<channel>` (the ingest's !skip / !clear / !emote, and any dump). */
export const controlMessageSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('skip'), by: z.string().max(200).optional() }),
  // A dump (src/ai/delay.ts): cut the line on air if it is an AI line; AI lines accepted until `at` are dropped.
  z.object({ action: z.literal('dump'), by: z.string().max(200).optional(), at: z.number().int().nonnegative() }),
  // !emote: the avatar shows this expression (checked against the channel's pack by the ingest and again by the broadcaster).
  z.object({ action: z.literal('emote'), expression: z.string().max(64), holdMs: z.number().int().min(0), by: z.string().max(200).optional() }),
  // `idolcast avatar reload`: every broadcaster of the channel (active and standby) reads its avatar pack again.
  z.object({ action: z.literal('avatar-reload'), by: z.string().max(200).optional() }),
  // Chaos runs and tests break things on purpose; honoured only with IDOLCAST_FAULT_INJECTION=1.
  z.object({ action: z.literal('inject'), fault: z.enum(['bed-off']) }),
]);
export type ControlMessage = z.infer<typeof controlMessageSchema>;
