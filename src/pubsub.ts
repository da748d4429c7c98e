import { z } from 'zod';

/**
 * Messages read from Redis pub/sub (schemas: queues/live-events.ts) come from anyone who can reach Redis: each is parsed and
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
