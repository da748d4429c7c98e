import { z } from 'zod';

/** Shared field shapes of the config sections. */

/** A duration in milliseconds with its default. */
export const durationMs = (def: number) => z.number().int().min(0).default(def);

/** A colour like #1d1b2e. */
export const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1d1b2e');

/** An offset or interval: milliseconds, or a number with ms, s, m, h or d ("+3s", "90m"). */
export const durationText = z.union([z.number().int().min(0), z.string().regex(/^\+?\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration like 500ms, 3s, 10m, 2h or 1d')]).transform((v) => {
  if (typeof v === 'number') return v;
  const m = /^\+?(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v)!;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']);
});

/** A time of day like 07:30. */
export const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day like 07:30');
