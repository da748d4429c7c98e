import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { Queues } from '../../queues/registry';
import { configSchema } from '../../src/config/schema';
import { DegradationMonitor, DegradationState, cheaperVoice, levelFor, thresholdsFrom, type Thresholds } from '../../src/degradation';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { keyspace } from '../../src/redis';

const t: Thresholds = { backlog: [40, 80, 160], rttMs: [100, 250, 500], recoverRatio: 0.75, holdMs: 10_000 };

describe('degradation level', () => {
  it('each input alone: how many thresholds it has reached', () => {
    expect([0, 39, 40, 79, 80, 159, 160, 10_000].map((b) => levelFor(b, t.backlog))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect([0.2, 100, 300, 900].map((ms) => levelFor(ms, t.rttMs))).toEqual([0, 1, 2, 3]);
  });

  it('rises at once to what the worse input calls for, and names the cause', () => {
    const s = new DegradationState(t);
    expect(s.update(10, 0.3, 0)).toBeUndefined();
    expect(s.update(45, 0.3, 1000)).toEqual({ from: 0 });
    expect(s.current).toMatchObject({ level: 1, cause: 'backlog', since: 1000 });
    // A slow Redis with a shallow backlog jumps straight to level 3.
    expect(s.update(45, 600, 1500)).toEqual({ from: 1 });
    expect(s.current).toMatchObject({ level: 3, cause: 'redis_rtt' });
  });

  it('falls one level at a time, only below the recovery share and after the hold time', () => {
    const s = new DegradationState(t);
    s.update(200, 0, 0);
    expect(s.current.level).toBe(3);
    // Below the threshold but not below 75 % of it (120): stays, however long.
    expect(s.update(130, 0, 60_000)).toBeUndefined();
    // Well below, but the level has not held for 10 s yet.
    const s2 = new DegradationState(t);
    s2.update(200, 0, 0);
    expect(s2.update(0, 0, 9_999)).toBeUndefined();
    // Then one step per hold time, not straight to normal.
    expect(s2.update(0, 0, 10_000)).toEqual({ from: 3 });
    expect(s2.current.level).toBe(2);
    expect(s2.update(0, 0, 15_000)).toBeUndefined();
    expect(s2.update(0, 0, 20_000)).toEqual({ from: 2 });
    expect(s2.update(0, 0, 30_000)).toEqual({ from: 1 });
    expect(s2.current).toMatchObject({ level: 0, cause: undefined });
  });

  it('does not flap on a backlog hovering around a threshold', () => {
    const s = new DegradationState(t);
    const levels: number[] = [];
    // The backlog swings 35 ↔ 45 around the level-1 threshold of 40, one sample a second for a minute.
    for (let sec = 0; sec < 60; sec++) {
      s.update(sec % 2 ? 45 : 35, 0, sec * 1000);
      levels.push(s.current.level);
    }
    expect(levels.slice(1).every((l) => l === 1)).toBe(true);
  });

  it('rises again at once while holding', () => {
    const s = new DegradationState(t);
    s.update(90, 0, 0);
    expect(s.current.level).toBe(2);
    expect(s.update(170, 0, 100)).toEqual({ from: 2 });
    expect(s.current.level).toBe(3);
  });

  it('thresholds come from the config: level 1 is chat.load.shedDepth, then twice and four times it by default', () => {
    const config = configSchema.parse({ chat: { load: { shedDepth: 25 } } });
    expect(thresholdsFrom(config)).toMatchObject({ backlog: [25, 50, 100], rttMs: [100, 250, 500] });
    expect(thresholdsFrom(configSchema.parse({ chat: { load: { shedDepth: 25 } }, degradation: { ttlDepth: 30, voiceDepth: 31 } })).backlog).toEqual([25, 30, 31]);
    const bad = configSchema.safeParse({ chat: { load: { shedDepth: 50 } }, degradation: { ttlDepth: 30 } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('backlog depths must rise with the level');
  });

  it('the cheaper voice is the named one, else the last (local) voice of the chain', () => {
    const config = configSchema.parse({
      tts: { engines: { cloud: { kind: 'openai' } } },
      voices: { idol: { engine: 'cloud', voice: 'nova', fallback: ['idol-b'] }, 'idol-b': { engine: 'cloud', voice: 'alloy', fallback: ['local'] }, local: {}, named: { engine: 'cloud', voice: 'echo', fallback: ['local'], cheaper: 'idol-b' } },
      defaultVoice: 'idol',
    });
    expect(cheaperVoice(config, 'idol')).toBe('local');
    expect(cheaperVoice(config, 'named')).toBe('idol-b');
    expect(cheaperVoice(config, 'local')).toBe('local');
    expect(cheaperVoice(config, 'unknown')).toBe('local');
    expect(configSchema.safeParse({ voices: { a: { cheaper: 'nope' } }, defaultVoice: 'a' }).success).toBe(false);
  });
});

describe('degradation log lines', () => {
  it('carry the degradation level under its own name: exactly one `level` key per JSON line, and it is pino\'s', () => {
    const lines: string[] = [];
    const log = createLogger('ingest', 'info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const config = configSchema.parse({});
    const stubRedis = { set: async () => 'OK' } as unknown as Redis;
    const monitor = new DegradationMonitor({ config, redis: stubRedis, keys: keyspace('t'), queues: {} as Queues, log, metrics: createMetrics('ingest', 'test') });
    monitor.observe(10_000); // straight to level 3: a warning
    expect(lines).toHaveLength(1);
    const raw = lines[0]!;
    // JSON.parse keeps the last of duplicate keys, so count them in the text itself.
    expect(raw.match(/"level":/g)).toHaveLength(1);
    for (const key of ['time', 'pid', 'hostname', 'msg']) expect((raw.match(new RegExp(`"${key}":`, 'g')) ?? []).length).toBeLessThanOrEqual(1);
    expect(JSON.parse(raw)).toMatchObject({ level: 40, degradationLevel: 3, fromLevel: 0, cause: 'backlog', msg: 'degradation level raised' });
  });
});
