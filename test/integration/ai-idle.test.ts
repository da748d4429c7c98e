import { IdleTalk, decideIdle } from '../../src/ai/idle';
import { TestFleet } from '../helpers/fleet';
import { aiLog } from '../helpers/ai-fleet';

describe('AI idle talk: when to start a topic and which (real Redis)', () => {
  let fleet: TestFleet;
  let now: number;
  const idle = (overrides: Record<string, unknown> = {}) => {
    fleet = new TestFleet(overrides);
    return new IdleTalk({ config: fleet.config, redis: fleet.redis, log: aiLog, now: () => now });
  };
  beforeEach(() => {
    now = Date.parse('2026-06-01T12:00:00Z');
  });
  afterEach(async () => {
    await fleet?.close();
  });

  it('starts only after afterMs of quiet chat, within the hourly budget, never in quiet hours (in their time zone)', async () => {
    const talk = idle({ ai: { idle: { afterMs: 60_000, maxPerHour: 2, quietHours: { start: '23:00', end: '07:00' }, timezone: 'Asia/Tokyo' } } });
    await talk.noteChat('main');
    now += 59_999;
    expect(await talk.tryStart('main')).toBeUndefined();
    now += 1;
    expect(await talk.tryStart('main')).toMatchObject({ source: 'topics' });
    expect(await talk.tryStart('main')).toBeUndefined(); // its own line counts as talk: afterMs again
    now += 60_000;
    expect(await talk.tryStart('main')).toBeDefined();
    now += 60_000;
    expect(await talk.tryStart('main')).toBeUndefined(); // two in the last hour
    expect(decideIdle(fleet.config, { now, lastIdleAt: now - 60_000, linesLastHour: 2 })).toEqual({ start: false, reason: 'budget' });
    now += 3_600_000;
    expect(await talk.tryStart('main')).toBeDefined();
    // 16:00 UTC is 01:00 in Tokyo: inside quiet hours.
    expect(decideIdle(fleet.config, { now: Date.parse('2026-06-01T16:00:00Z'), linesLastHour: 0 })).toEqual({ start: false, reason: 'quiet hours' });
  });

  it('configured topics come each once before any repeats, and two replicas never both start the same idle line', async () => {
    const topics = ['cats', 'rain', 'music', 'space'];
    const talk = idle({ ai: { idle: { afterMs: 5_000, maxPerHour: 120, topics, sources: ['topics'] } } });
    const other = new IdleTalk({ config: fleet.config, redis: fleet.redis, log: aiLog, now: () => now });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      now += 5_000;
      const [a, b] = await Promise.all([talk.tryStart('main'), other.tryStart('main')]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      seen.push((a ?? b)!.topic);
    }
    expect([...seen].sort()).toEqual([...topics].sort());
  });

  it('sources take turns: the programme\'s next entry, the topic list, a remembered viewer', async () => {
    const talk = idle({
      ai: { idle: { afterMs: 5_000, maxPerHour: 120, topics: ['snacks'], sources: ['schedule', 'topics', 'memory'] } },
      schedule: { routines: { 'karaoke-hour': { cron: '0 14 * * *', action: { say: 'Karaoke time!' } } } },
    });
    const remembered = async () => 'Mika has a cat called Biscuit.';
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      now += 5_000;
      got.push(JSON.stringify(await talk.tryStart('main', remembered)));
    }
    expect(got.map((g) => JSON.parse(g) as unknown)).toEqual([
      { source: 'schedule', topic: 'what is coming up on the stream at 14:00: karaoke hour (say "Karaoke time!")' },
      { source: 'topics', topic: 'snacks' },
      { source: 'memory', topic: 'Mika has a cat called Biscuit.' },
    ]);
    await expect(talk.tryStart('nope')).rejects.toThrow('no channel named "nope"');
  });
});
