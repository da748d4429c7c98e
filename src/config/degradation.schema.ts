import { z } from 'zod';
import { durationMs } from './fields';

/**
 * How the fleet degrades when Redis is slow or the speech backlog is deep: level 1 sheds plain chat
 * speech (from `chat.load.shedDepth`), level 2 also gives plain chat a short time-to-live, level 3
 * also voices chat lines with cheaper voices. AI replies to unpaid chat go before level 1 (at
 * `aiShedDepth`), and at every level from 1 on. Paid, moderator, operator and routine lines are never
 * shed, shortened or cheapened. The ingest process measures and shares the level through Redis.
 */
export const degradationSchema = z
  .strictObject({
    /**
     * Speech backlog at which AI replies to unpaid chat stop being offered (default: half of
     * `chat.load.shedDepth`): the idol's own words are shed before plain chat speech is.
     */
    aiShedDepth: z.number().int().min(1).optional(),
    /** Speech backlog at which level 2 starts (default: twice `chat.load.shedDepth`). */
    ttlDepth: z.number().int().min(1).optional(),
    /** Speech backlog at which level 3 starts (default: twice `ttlDepth`). */
    voiceDepth: z.number().int().min(1).optional(),
    /** Redis round trip (median of the last 3 pings, ms) at which levels 1, 2 and 3 start. */
    redisRttMs: z.strictObject({ shed: z.number().min(0).default(100), ttl: z.number().min(0).default(250), voice: z.number().min(0).default(500) }).prefault({}),
    /** From level 2 on, plain chat still waiting after this is dropped as stale (lines already queued too). */
    shortTtlMs: durationMs(8000),
    /** A level is left only once every input is below this share of the level's threshold… */
    recoverRatio: z.number().min(0.1).max(1).default(0.75),
    /** …and the level has held this long; one level down at a time, so the fleet does not flap. */
    holdMs: durationMs(10000),
    /** How often the ingest process samples the backlog and Redis's round trip. */
    sampleMs: z.number().int().min(50).default(1000),
  })
  .prefault({});

/** Speech backlog depths at which degradation levels 1, 2 and 3 start. */
export function degradationDepths(cfg: { chat: { load: { shedDepth: number } }; degradation: { ttlDepth?: number; voiceDepth?: number } }): [number, number, number] {
  const shed = cfg.chat.load.shedDepth;
  const ttl = cfg.degradation.ttlDepth ?? shed * 2;
  return [shed, ttl, cfg.degradation.voiceDepth ?? ttl * 2];
}

/** Speech backlog at which AI replies to unpaid chat are shed: before plain chat speech is (level 1). */
export function aiShedDepth(cfg: { chat: { load: { shedDepth: number } }; degradation: { aiShedDepth?: number } }): number {
  return cfg.degradation.aiShedDepth ?? Math.max(1, Math.floor(cfg.chat.load.shedDepth / 2));
}
