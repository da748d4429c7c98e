import { AiSwitch } from '../../src/ai/switch';
import { createRedis } from '../../src/redis';
import { TestFleet, eventually } from '../helpers/fleet';
import { aiLog } from '../helpers/ai-fleet';

describe('AI kill switch (real Redis)', () => {
  let fleet: TestFleet;
  const opened: { quit(): Promise<unknown> }[] = [];
  const replica = () => {
    const redis = createRedis(fleet.redisUrl);
    opened.push(redis);
    return new AiSwitch({ config: fleet.config, redis, log: aiLog });
  };
  afterEach(async () => {
    for (const r of opened.splice(0)) await r.quit();
    await fleet?.close();
  });

  it('off on one replica stops new replies on another, and the state with who set it survives a restart', async () => {
    fleet = new TestFleet();
    const [a, b] = [replica(), replica()];
    expect(await b.isOn()).toBe(true);
    expect(await b.state()).toEqual({ on: true, source: 'config' });
    await a.set(false, 'cli:operator');
    expect(await a.isOn()).toBe(false); // at once where it was set
    await eventually(async () => ((await b.isOn()) ? undefined : true), 'the other replica sees the switch off');
    expect(await fleet.redis.pttl(`${fleet.prefix}:ai:switch`)).toBe(-1); // no TTL

    const restarted = replica();
    expect(await restarted.isOn()).toBe(false);
    expect(await restarted.state()).toMatchObject({ on: false, by: 'cli:operator', source: 'switch' });
    await restarted.set(true, 'twitch:mod1');
    await eventually(async () => ((await a.isOn()) ? true : undefined), 'back on everywhere');
  });

  it('ai.enabled: false starts off until someone turns it on; unreadable state counts as off', async () => {
    fleet = new TestFleet({ ai: { enabled: false } });
    const s = replica();
    expect(await s.isOn()).toBe(false);
    await s.set(true, 'page');
    expect(await s.isOn()).toBe(true);
    // A connection that is gone: every command fails.
    const gone = createRedis(fleet.redisUrl);
    await gone.quit();
    const cut = new AiSwitch({ config: fleet.config, redis: gone, log: aiLog });
    expect(await cut.state()).toEqual({ on: false, source: 'unreadable' });
  });
});
