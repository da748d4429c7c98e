import CircuitBreaker from 'opossum';
import type { Redis } from './redis';
import type { Logger } from './logger';

export interface SharedBreakerOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  rollingCountTimeoutMs: number;
  resetTimeoutMs: number;
}

export type BreakerState = 'closed' | 'halfOpen' | 'open';

/** Providers whose shared breaker key lives, i.e. some replica has opened it (name → ms left until a probe). */
export async function openBreakers(redis: Redis, names: readonly string[], key: (name: string) => string): Promise<Record<string, number>> {
  const ttls = await Promise.all(names.map((n) => redis.pttl(key(n))));
  return Object.fromEntries(names.flatMap((n, i) => (ttls[i]! > 0 ? [[n, ttls[i]!]] : [])));
}

/** A breaker's action: run the work it is handed (so one breaker guards any call to its provider). */
export type Guarded = CircuitBreaker<[() => Promise<unknown>], unknown>;

/**
 * Opossum breakers, one per provider name, whose open state is shared by every replica through
 * Redis, as the TTS breakers of SpeechService do: when one opens, a key with the reset timeout as
 * its TTL is written; every replica skips the provider while the key lives (`openElsewhere`); a
 * breaker that closes again deletes it. Each breaker runs whatever work `fire` is handed, so a
 * failure seen outside a call (a stream that broke after its first token) can be counted with
 * `recordFailure`.
 */
export class SharedBreakers {
  private readonly breakers = new Map<string, Guarded>();

  constructor(
    private readonly deps: {
      redis: Redis;
      /** The Redis key of a provider's shared open state (names come from config only). */
      key: (name: string) => string;
      options: SharedBreakerOptions;
      log: Logger;
      onState?: (name: string, state: BreakerState) => void;
      /** What a provider is called in the logs (its name is logged under this field too). */
      noun?: string;
    },
  ) {}

  /** The breaker of a provider (created on first use). */
  get(name: string): Guarded {
    const known = this.breakers.get(name);
    if (known) return known;
    const { options: o, log, redis, key, onState, noun = 'provider' } = this.deps;
    const b: Guarded = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      timeout: false,
      errorThresholdPercentage: o.errorThresholdPercentage,
      volumeThreshold: o.volumeThreshold,
      resetTimeout: o.resetTimeoutMs,
      rollingCountTimeout: o.rollingCountTimeoutMs,
      name,
    });
    onState?.(name, 'closed');
    b.on('open', () => {
      onState?.(name, 'open');
      log.warn({ [noun]: name, resetInMs: o.resetTimeoutMs }, `breaker opened: the fleet skips this ${noun}`);
      void redis.set(key(name), JSON.stringify({ openedAt: Date.now() }), 'PX', Math.max(1, o.resetTimeoutMs)).catch(() => {});
    });
    b.on('halfOpen', () => {
      onState?.(name, 'halfOpen');
      log.info({ [noun]: name }, 'breaker half-open: probing');
    });
    b.on('close', () => {
      onState?.(name, 'closed');
      log.info({ [noun]: name }, `breaker closed: ${noun} restored`);
      void redis.del(key(name)).catch(() => {});
    });
    this.breakers.set(name, b);
    return b;
  }

  /** Run `work` through a provider's breaker; rejects with code EOPENBREAKER while it is open. */
  fire<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.get(name).fire(work) as Promise<T>;
  }

  /** Count a failure that happened outside `fire` (no-op while the breaker is open). */
  recordFailure(name: string, err: Error): void {
    this.get(name)
      .fire(() => Promise.reject(err))
      .catch(() => {});
  }

  /** Whether to skip a provider now: its breaker is open here, or another replica opened it. */
  async isOpen(name: string): Promise<boolean> {
    const b = this.get(name);
    if (b.opened) return true;
    // A half-open breaker here is this replica's probe: let it through.
    if (b.halfOpen) return false;
    return (await this.deps.redis.exists(this.deps.key(name))) > 0;
  }

  /** Providers whose breaker some replica has opened (name → ms left). */
  openNames(names: string[]): Promise<Record<string, number>> {
    return openBreakers(this.deps.redis, names, this.deps.key);
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
  }
}
