import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Leadership } from '../../src/broadcast/leadership';
import { createLogger } from '../../src/logger';
import { createRedis, type Redis } from '../../src/redis';
import { redisUrl } from '../helpers/fleet';

/** The broadcast lock on the real test Redis: what a starved holder does when it wakes. */
describe('broadcast lock (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = { lock: `${prefix}:leader`, fence: `${prefix}:fence` };
  const log = createLogger('test', 'silent');
  let redis: Redis;
  const held: Leadership[] = [];
  beforeAll(() => {
    redis = createRedis(redisUrl());
  });
  afterEach(async () => {
    for (const l of held.splice(0)) await l.release();
    await redis.del(keys.lock, keys.fence);
  });
  afterAll(async () => redis.quit());

  const holder = async (name: string, ttlMs = 400) => {
    const lead = new Leadership(redis, keys, name, ttlMs, log);
    held.push(lead);
    expect(await lead.acquire(() => false)).toBeGreaterThan(0);
    return lead;
  };

  it('a holder whose event loop was blocked past the lease, with nobody else there, takes the lock again (not a loss)', async () => {
    const lead = await holder('a');
    const lost: unknown[] = [];
    lead.on('lost', (l) => lost.push(l));
    lead.keep();
    const before = Date.now();
    expect(lead.heldSince(before)).toBe(true);
    // Starve the loop: no timer can fire until the lock has expired in Redis.
    const until = Date.now() + 1000;
    while (Date.now() < until);
    expect(lead.mayPublish).toBe(false); // by its own clock, before any round trip
    const [gap] = (await once(lead, 'regained')) as [{ expired: boolean; token: number; lateMs: number }];
    expect(gap.expired).toBe(true);
    expect(gap.token).toBeGreaterThan(1); // a new lease, a new fencing token
    expect(lead.token).toBe(gap.token);
    expect(lead.mayPublish).toBe(true);
    // What went out before the gap was partly dropped: a line spanning it did not air whole.
    expect(lead.heldSince(before)).toBe(false);
    expect(lost).toEqual([]);
    expect(await redis.get(keys.lock)).toBe(`a ${gap.token}`);
  });

  it('a lock another holder took is lost, naming who holds it; nothing is published from then', async () => {
    const lead = await holder('a');
    lead.keep();
    await redis.set(keys.lock, 'b 99', 'PX', 5000);
    const [loss] = (await once(lead, 'lost')) as [{ by: string; token: number }];
    expect(loss).toEqual({ by: 'b', token: 1 });
    expect(lead.mayPublish).toBe(false);
    expect(await redis.get(keys.lock)).toBe('b 99');
  });
});
