import type { Redis } from 'ioredis';
import type { Config } from '../config/schema';
import type { Keyspace } from '../redis';
import { openBreakers } from '../shared-breaker';

/**
 * The remote TTS engines' breakers as the fleet shares them: an engine whose breaker some replica
 * opened has a key in Redis that expires when a probe is due. SpeechService writes it; readiness,
 * the status report and SpeechService itself read it here.
 */

/** Remote engines whose breaker some replica has opened (name → ms until a probe), in config order. */
export function openEngines(redis: Redis, keys: Keyspace, config: Pick<Config, 'tts'>): Promise<Record<string, number>> {
  return openBreakers(redis, Object.keys(config.tts.engines), keys.breaker);
}

/** One remote engine's breaker as the fleet shares it. */
export interface EngineBreaker {
  engine: string;
  state: 'open' | 'closed';
  /** While open: ms until a probe is let through. */
  probeInMs?: number;
}

/** Every remote engine's breaker, in config order: open with the ms until a probe, or closed. */
export async function engineBreakers(redis: Redis, keys: Keyspace, config: Pick<Config, 'tts'>): Promise<EngineBreaker[]> {
  const open = await openEngines(redis, keys, config);
  return Object.keys(config.tts.engines).map((engine) => (Object.hasOwn(open, engine) ? { engine, state: 'open', probeInMs: open[engine]! } : { engine, state: 'closed' }));
}

/** Whether another replica has opened the engine's breaker (this replica's own breaker is asked first). */
export async function openElsewhere(redis: Redis, keys: Keyspace, engine: string): Promise<boolean> {
  return (await redis.exists(keys.breaker(engine))) > 0;
}

/** Tell the fleet the engine's breaker opened: every replica skips it until `resetMs` lets a probe through. */
export function shareOpen(redis: Redis, keys: Keyspace, engine: string, resetMs: number): Promise<unknown> {
  return redis.set(keys.breaker(engine), JSON.stringify({ openedAt: Date.now() }), 'PX', resetMs);
}

/** Tell the fleet the engine's breaker closed again. */
export function shareClosed(redis: Redis, keys: Keyspace, engine: string): Promise<unknown> {
  return redis.del(keys.breaker(engine));
}
