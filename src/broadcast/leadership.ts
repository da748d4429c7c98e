import { EventEmitter } from 'node:events';
import type { Redis } from '../redis';
import type { Logger } from '../logger';
import { sleep } from '../time';

/** Take the lock if it is free; the new holder gets the next fencing token. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
`;
/**
 * Extend the lock while it is still ours (same holder, same token) → {1, token}. If it expired
 * and nobody took it, it is taken again with a new fencing token → {2, token}: an expired lock
 * nobody wanted is not a loss. Held by someone else → {0, their value}.
 */
const RENEW = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[4]}
end
if held then return {0, held} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. token, 'PX', ARGV[3])
return {2, tostring(token)}
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Why a renewal did not simply extend the lease. */
export interface LeadershipEvents {
  /** Someone else holds the lock: stop broadcasting for good. */
  lost: [loss: { by: string; token: number }];
  /** The lease lapsed by our own clock (nothing went out meanwhile) and is ours again, maybe with a new token. */
  regained: [gap: { lateMs: number; expired: boolean; token: number }];
  /** Each renewal round: how late its timer fired and the round trip (for measurements). */
  renewed: [timing: { lateMs: number; rttMs: number }];
}

/**
 * One active broadcaster per channel: a lock in Redis with a TTL the holder renews, and a
 * fencing token that grows with every new holder. The holder may publish only while its lease
 * is known to be valid (`mayPublish`): a process that was paused past its lease (GC, SIGSTOP,
 * a stalled VM, a starved CPU) finds the lease expired by its own clock the moment it wakes,
 * before any renewal round trip, so it never pushes over the broadcaster that took over.
 * When it wakes to find the lock expired and free, it takes it again (`regained`); only a
 * lock another broadcaster holds is `lost`. No exits here: the process decides what losing means.
 */
export class Leadership extends EventEmitter<LeadershipEvents> {
  token = 0;
  /** The member that took the lock from us, once it has. */
  lostTo?: string;
  private validUntil = 0;
  /** Since when the lease has been valid without a gap (by our own clock). */
  private validSince = Infinity;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private unreachable = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: { lock: string; fence: string },
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {
    super();
  }

  private get value(): string {
    return `${this.holder} ${this.token}`;
  }

  /** Safety margin: stop publishing a little before the lease could lapse in Redis. */
  private get margin(): number {
    return Math.min(200, this.ttlMs / 5);
  }

  /** Renewals every quarter of the TTL: a renewal may come up to half the TTL late without a gap. */
  get renewEveryMs(): number {
    return Math.round(this.ttlMs / 4);
  }

  get mayPublish(): boolean {
    return !this.stopped && Date.now() < this.validUntil;
  }

  /** The lease is valid now and has been without a gap since `wallMs` (nothing we sent since then was dropped). */
  heldSince(wallMs: number): boolean {
    return this.mayPublish && this.validSince <= wallMs;
  }

  /** Wait as a standby until the lock is ours (or `cancelled` says stop); resolves with the fencing token. */
  async acquire(cancelled: () => boolean): Promise<number | undefined> {
    const every = Math.max(50, Math.round(this.ttlMs / 6));
    while (!cancelled()) {
      const sentAt = Date.now();
      const token = Number(await this.redis.eval(ACQUIRE, 2, this.keys.lock, this.keys.fence, this.holder, this.ttlMs));
      if (token > 0) {
        this.token = token;
        this.validSince = Date.now();
        this.validUntil = sentAt + this.ttlMs - this.margin;
        return token;
      }
      await sleep(every);
    }
    return undefined;
  }

  /** Keep renewing until released or lost (see the events). */
  keep(): void {
    this.schedule(this.renewEveryMs);
  }

  private schedule(ms: number): void {
    const dueAt = Date.now() + ms;
    this.timer = setTimeout(() => void this.renew(dueAt), ms);
  }

  private async renew(dueAt: number): Promise<void> {
    if (this.stopped) return;
    const sentAt = Date.now();
    let answer: [number, string];
    try {
      answer = (await this.redis.eval(RENEW, 2, this.keys.lock, this.keys.fence, this.value, this.holder, this.ttlMs, String(this.token))) as [number, string];
    } catch (err) {
      // Redis unreachable: nothing goes out once the lease lapses, and the next answer decides who holds it.
      // Said once per outage, not at every retry.
      if (Date.now() >= this.validUntil && !this.unreachable) this.log.warn({ err: (err as Error).message }, 'cannot renew the broadcast lock: not publishing until Redis answers');
      this.unreachable = Date.now() >= this.validUntil;
      return this.schedule(Math.max(50, Math.round(this.ttlMs / 6)));
    }
    if (this.stopped) return;
    this.unreachable = false;
    const [code, detail] = answer;
    const now = Date.now();
    const lateMs = sentAt - dueAt;
    this.emit('renewed', { lateMs, rttMs: now - sentAt });
    if (code === 0) {
      this.validUntil = 0;
      this.stopped = true;
      this.lostTo = detail.split(' ')[0] ?? detail;
      this.emit('lost', { by: this.lostTo, token: this.token });
      return;
    }
    const lapsed = now >= this.validUntil;
    this.token = Number(detail);
    this.validUntil = sentAt + this.ttlMs - this.margin;
    // Lapsed by our clock, or the key was gone (expired, or a Redis that lost its data): a new lease.
    if (lapsed || code === 2) {
      this.validSince = now;
      this.emit('regained', { lateMs, expired: code === 2, token: this.token });
    }
    this.schedule(this.renewEveryMs);
  }

  /** Give the lock up at once (graceful stop): the standby need not wait for the TTL. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.token) await this.redis.eval(RELEASE, 1, this.keys.lock, this.value).catch((err: Error) => this.log.warn({ err: err.message }, 'could not release the broadcast lock'));
  }
}
