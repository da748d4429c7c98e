import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from './redis';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Keyspace } from './redis';

/** What a fleet member says about itself in each heartbeat. */
export interface FleetMember {
  id: string;
  kind: string;
  pid: number;
  host: string;
  startedAt: number;
  beatAt: number;
  /** Free-form figures of the member (concurrency, jobs processed, encoder state, …). */
  detail: Record<string, unknown>;
}

/** A unique id for this process in the fleet. */
export function memberId(kind: string): string {
  return `${kind}-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Keeps this process listed in Redis while it lives: a heartbeat every `periodMs` refreshes
 * its entry (which expires after three missed beats) and publishes its metrics.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    readonly id: string,
    private readonly kind: string,
    private readonly periodMs: number,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    private readonly detail: () => Record<string, unknown> = () => ({}),
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.periodMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    const ttl = this.periodMs * 3;
    const member: FleetMember = { id: this.id, kind: this.kind, pid: process.pid, host: os.hostname(), startedAt: this.startedAt, beatAt: now, detail: this.detail() };
    try {
      const multi = this.redis.multi().zadd(this.keys.fleet, now, this.id).set(this.keys.fleetMember(this.id), JSON.stringify(member), 'PX', ttl);
      if (this.metrics) multi.set(this.keys.metrics(this.id), JSON.stringify(await this.metrics.registry.getMetricsAsJSON()), 'PX', ttl);
      await multi.exec();
    } catch (err) {
      // Redis may be restarting; the next beat tries again and readiness shows the gap.
      this.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  /** Leave the fleet at once (on graceful shutdown) rather than after three missed beats. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    try {
      await this.redis.multi().zrem(this.keys.fleet, this.id).del(this.keys.fleetMember(this.id), this.keys.metrics(this.id)).exec();
    } catch {
      /* Redis gone: the entry expires by itself. */
    }
  }
}

/** Live fleet members (heartbeat within three periods), oldest first. */
export async function listFleet(redis: Redis, keys: Keyspace, periodMs: number): Promise<FleetMember[]> {
  const since = Date.now() - periodMs * 3;
  await redis.zremrangebyscore(keys.fleet, '-inf', `(${since}`);
  const ids = await redis.zrangebyscore(keys.fleet, since, '+inf');
  if (ids.length === 0) return [];
  const raw = await redis.mget(ids.map((id) => keys.fleetMember(id)));
  return raw.flatMap((r) => (r ? [JSON.parse(r) as FleetMember] : []));
}
