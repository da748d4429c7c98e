import { z } from 'zod';

/**
 * Messages read from Redis pub/sub come from anyone who can reach Redis: each is parsed and
 * checked against its schema, and a bad one is logged (briefly) and ignored, never thrown.
 */
export function parsePubSub<S extends z.ZodType>(schema: S, raw: string, log: { warn: (fields: Record<string, unknown>, msg: string) => void }, channel: string): z.infer<S> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    log.warn({ channel, bytes: raw.length, sample: raw.slice(0, 80) }, 'ignored a pub/sub message: not JSON');
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  log.warn({ channel, bytes: raw.length, problems: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`) }, 'ignored a pub/sub message: wrong shape');
  return undefined;
}

/** Operator controls on `<prefix>:control:<channel>` (sent by the ingest's !skip / !clear). */
export const controlMessageSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('skip'), by: z.string().max(200).optional() }),
  // Chaos runs and tests break things on purpose; honoured only with IDOLCAST_FAULT_INJECTION=1.
  z.object({ action: z.literal('inject'), fault: z.enum(['bed-off']) }),
]);
export type ControlMessage = z.infer<typeof controlMessageSchema>;

/**
 * The fields of a channel event (`<prefix>:events:<channel>`) that readers act on; other event
 * types and fields pass through. `interrupted` marks an on-air end whose line did not finish
 * airing (the broadcaster lost its lease): it is aired again, so it does not count as aired.
 */
export const channelEventSchema = z.looseObject({
  type: z.string().max(100),
  utteranceId: z.string().max(300).optional(),
  startAt: z.number().optional(),
  endAt: z.number().optional(),
  interrupted: z.boolean().optional(),
});
export type ChannelEvent = z.infer<typeof channelEventSchema>;
