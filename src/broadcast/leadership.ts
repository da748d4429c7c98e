import type { Redis } from 'ioredis';
import type { Logger } from '../logger';

/** Take the lock if it is free; the new holder gets the next fencing token. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
`;
/** Extend the lock only while it is still ours (same holder, same token). */
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * One active broadcaster per channel: a lock in Redis with a TTL the holder renews, and a
 * fencing token that grows with every new holder. The holder may publish only while its lease
 * is known to be valid (`mayPublish`): a process that was paused past its lease (GC, SIGSTOP,
 * a stalled VM) finds the lease expired by its own clock the moment it wakes, before any renewal
 * round trip, so it never pushes over the broadcaster that took over.
 */
export class Leadership {
  token = 0;
  private validUntil = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: { lock: string; fence: string },
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  private get value(): string {
    return `${this.holder} ${this.token}`;
  }

  /** Safety margin: stop publishing a little before the lease could lapse in Redis. */
  private get margin(): number {
    return Math.min(200, this.ttlMs / 5);
  }

  get mayPublish(): boolean {
    return !this.stopped && Date.now() < this.validUntil;
  }

  /** Wait as a standby until the lock is ours (or `cancelled` says stop); resolves with the fencing token. */
  async acquire(cancelled: () => boolean): Promise<number | undefined> {
    const every = Math.max(50, Math.round(this.ttlMs / 6));
    while (!cancelled()) {
      const sentAt = Date.now();
      const token = Number(await this.redis.eval(ACQUIRE, 2, this.keys.lock, this.keys.fence, this.holder, this.ttlMs));
      if (token > 0) {
        this.token = token;
        this.validUntil = sentAt + this.ttlMs - this.margin;
        return token;
      }
      await new Promise((r) => setTimeout(r, every));
    }
    return undefined;
  }

  /** Renew every third of the TTL; `lost` is called once if the lock is no longer ours. */
  keep(lost: (why: string) => void): void {
    const renew = async () => {
      if (this.stopped) return;
      const sentAt = Date.now();
      let ours: boolean;
      try {
        ours = Number(await this.redis.eval(RENEW, 1, this.keys.lock, this.value, this.ttlMs)) === 1;
      } catch (err) {
        // Redis unreachable: keep trying while the lease lasts; past it, we are no longer the holder.
        if (Date.now() < this.validUntil) return void (this.timer = setTimeout(() => void renew(), this.ttlMs / 6));
        return lost(`cannot renew the lock: ${(err as Error).message}`);
      }
      if (!ours) {
        this.validUntil = 0;
        return lost('another broadcaster holds the lock');
      }
      this.validUntil = sentAt + this.ttlMs - this.margin;
      this.timer = setTimeout(() => void renew(), this.ttlMs / 3);
    };
    this.timer = setTimeout(() => void renew(), this.ttlMs / 3);
  }

  /** Give the lock up at once (graceful stop): the standby need not wait for the TTL. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.token) await this.redis.eval(RELEASE, 1, this.keys.lock, this.value).catch((err: Error) => this.log.warn({ err: err.message }, 'could not release the broadcast lock'));
  }
}
