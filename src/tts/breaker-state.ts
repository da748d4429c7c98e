import type { Redis } from '../redis';
import type { Config } from '../config/schema';
import type { Keyspace } from '../redis';
import type { Logger } from '../logger';
import { openBreakers, SharedBreakers, type BreakerState } from '../shared-breaker';

/**
 * The remote TTS engines' breakers as the fleet shares them: an engine whose breaker some replica
 * opened has a key in Redis that expires when a probe is due. SpeechService's breakers (made
 * here) write it; readiness, the status report and SpeechService itself read it here.
 */

/** One breaker per remote engine (`tts.breaker`), its open state shared by the fleet. */
export function ttsBreakers(deps: { redis: Redis; keys: Keyspace; config: Pick<Config, 'tts'>; log: Logger; onState: (engine: string, state: BreakerState) => void }): SharedBreakers {
  const { errorThresholdPercentage, volumeThreshold, rollingCountTimeoutMs, resetTimeoutMs } = deps.config.tts.breaker;
  return new SharedBreakers({
    redis: deps.redis,
    key: (engine) => deps.keys.breaker(engine),
    options: { errorThresholdPercentage, volumeThreshold, rollingCountTimeoutMs, resetTimeoutMs },
    log: deps.log,
    onState: deps.onState,
    noun: 'engine',
  });
}

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
