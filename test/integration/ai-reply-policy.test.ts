import { ReplyPolicy, type ReplyMessage } from '../../src/ai/reply-policy';
import { createMetrics, type Metrics } from '../../src/metrics';
import { TestFleet } from '../helpers/fleet';
import { aiLog } from '../helpers/ai-fleet';

describe('AI reply policy: who gets a reply, cooldowns, slots and the best-message picker (real Redis)', () => {
  let fleet: TestFleet;
  const fleets: TestFleet[] = [];
  let now: number;
  let metrics: Metrics;
  let n = 0;
  const policy = (reply: Record<string, unknown> = {}, random = () => 0.99) => {
    fleet = new TestFleet({ ai: { reply: { channelCooldownMs: 0, ...reply } } });
    fleets.push(fleet);
    metrics = createMetrics('worker-ai', 'test');
    return new ReplyPolicy({ config: fleet.config, redis: fleet.redis, log: aiLog, metrics, random, now: () => now });
  };
  const msg = (viewer: string, text: string, paid = false): ReplyMessage => ({ id: `m${++n}`, viewer, name: viewer.split(':')[1]!, text, paid });

  beforeEach(() => {
    now = 1_800_000_000_000;
  });
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.close();
  });

  it('greets first-timers once, answers mentions, questions and !ask, samples the rest', async () => {
    const p = policy({}, () => 0.5);
    expect(await p.offer('main', msg('twitch:1', 'hello all'))).toMatchObject({ accepted: true, reason: 'first' });
    expect(await p.offer('main', msg('twitch:1', 'just chilling'))).toEqual({ accepted: false, why: 'not picked' });
    expect(await p.offer('main', msg('twitch:2', 'hey @aiko nice stream'))).toMatchObject({ reason: 'mention' });
    expect(await p.offer('main', msg('twitch:3', 'what game is this?'))).toMatchObject({ reason: 'question' });
    expect(await p.offer('main', msg('twitch:4', '!ask   favourite colour'))).toMatchObject({ reason: 'ask' });
    expect(await p.offer('main', msg('twitch:5', 'Aikokoro is a word'))).toMatchObject({ reason: 'first' }); // not a mention: not the name as a word
    const sampled = policy({ sampleRate: 0.6 }, () => 0.5);
    await sampled.offer('main', msg('twitch:9', 'first'));
    expect(await sampled.offer('main', msg('twitch:9', 'plain'))).toMatchObject({ accepted: true, reason: 'sampled' });
  });

  it('under a busy chat the best message of the window is taken, the rest skipped and counted; paid ones are never skipped', async () => {
    const p = policy({ pickWindowMs: 5000 });
    for (let i = 0; i < 5; i++) await p.offer('main', msg(`twitch:${i}`, `hi ${i}`)); // first-timers
    await p.offer('main', msg('twitch:7', 'aiko how are you?'));
    await p.offer('main', msg('twitch:8', 'thanks!', true));
    await p.offer('main', msg('twitch:6', '!ask what is your name'));
    await p.offer('main', msg('twitch:9', 'more money', true));
    const first = await p.take('main');
    expect(first.candidate).toMatchObject({ viewer: 'twitch:9', reason: 'paid', situation: 'paid' });
    expect(first.skipped).toBe(7); // five greetings, the mention and the !ask
    expect(await metrics.registry.getSingleMetricAsString('idolcast_ai_skipped_total')).toMatch(/idolcast_ai_skipped_total\{channel="main"[^}]*\} 7\n?$/);
    await p.release('main', first.slot!);
    const second = await p.take('main');
    expect(second.candidate).toMatchObject({ viewer: 'twitch:8', reason: 'paid' });
    await p.release('main', second.slot!);
    expect(await p.take('main')).toEqual({ why: 'empty', skipped: 0 });
  });

  it('unpaid candidates older than the window are skipped; a paid one waits', async () => {
    const p = policy({ pickWindowMs: 3000 });
    await p.offer('main', msg('twitch:1', 'is this live?'));
    await p.offer('main', msg('twitch:2', 'here you go', true));
    const busy = await p.take('main');
    expect(busy).toMatchObject({ candidate: { reason: 'paid' }, skipped: 1 }); // the question: passed over
    await p.offer('main', msg('twitch:4', 'still live?'));
    await p.offer('main', msg('twitch:3', 'love it', true));
    now += 60_000;
    expect(await p.take('main')).toEqual({ why: 'in flight', skipped: 1 }); // the question aged out
    await p.release('main', busy.slot!);
    expect((await p.take('main')).candidate).toMatchObject({ viewer: 'twitch:3', reason: 'paid' });
  });

  it('at most maxInFlight replies per channel; a slot whose worker died frees itself after slotTtlMs', async () => {
    const p = policy({ maxInFlight: 2, slotTtlMs: 10_000, pickWindowMs: 60_000 });
    for (let i = 1; i <= 3; i++) await p.offer('main', msg(`twitch:${i}`, `q${i}?`));
    const a = await p.take('main');
    for (let i = 4; i <= 5; i++) await p.offer('main', msg(`twitch:${i}`, `q${i}?`));
    const b = await p.take('main');
    expect([a.candidate?.viewer, b.candidate?.viewer]).toEqual(['twitch:3', 'twitch:5']);
    await p.offer('main', msg('twitch:6', 'q6?'));
    expect(await p.take('main')).toMatchObject({ why: 'in flight' });
    expect(await p.depth('main')).toEqual({ inFlight: 2, waiting: 1 });
    now += 10_001; // neither worker gave its slot back: both expired
    expect((await p.take('main')).candidate?.viewer).toBe('twitch:6');
    expect(await p.depth('main')).toEqual({ inFlight: 1, waiting: 0 });
  });

  it('per-user and per-channel cooldowns in Redis; paid messages skip the user cooldown', async () => {
    const p = policy({ userCooldownMs: 600_000, channelCooldownMs: 600_000 });
    await p.offer('main', msg('twitch:1', 'why?'));
    const first = await p.take('main');
    await p.release('main', first.slot!);
    expect(await p.offer('main', msg('twitch:1', 'and why not?'))).toEqual({ accepted: false, why: 'user cooldown' });
    expect(await p.offer('main', msg('twitch:1', 'take my money', true))).toMatchObject({ accepted: true, reason: 'paid' });
    expect(await p.take('main')).toMatchObject({ why: 'cooldown' });
    expect(await fleet.redis.pttl(`${fleet.prefix}:ai:cd:main`)).toBeGreaterThan(0);
    await expect(p.offer('other', msg('twitch:1', 'hi?'))).rejects.toThrow('no channel named "other"');
  });

  it('a batch of one channel\'s messages is decided as one by one: a first-timer greeted once, a cooling-down viewer refused, paid kept', async () => {
    const p = policy({ userCooldownMs: 600_000, maxCandidates: 2 }, () => 0.99);
    await p.offer('main', msg('twitch:9', 'why?'));
    await p.release('main', (await p.take('main')).slot!); // twitch:9 cools down now
    const offers = await p.offerMany('main', [msg('twitch:1', 'hello'), msg('twitch:1', 'hello again'), msg('twitch:9', 'and now?'), msg('twitch:2', 'hey aiko'), msg('twitch:3', 'what song is this?'), msg('twitch:9', 'tip', true)]);
    expect(offers).toEqual([
      { accepted: true, reason: 'first', skipped: 0 },
      { accepted: false, why: 'not picked' },
      { accepted: false, why: 'user cooldown' },
      { accepted: true, reason: 'mention', skipped: 0 },
      { accepted: true, reason: 'question', skipped: 1 }, // past maxCandidates: the lowest unpaid one (the greeting) goes
      { accepted: true, reason: 'paid', skipped: 0 },
    ]);
    expect((await p.take('main')).candidate).toMatchObject({ viewer: 'twitch:9', reason: 'paid' });
  });

  it('the first-seen set and the candidates stay bounded', async () => {
    const p = policy({ firstSeenMax: 100, maxCandidates: 5 });
    let skipped = 0;
    for (let i = 0; i < 120; i++) {
      now++;
      const o = await p.offer('main', msg(`twitch:${i}`, 'hello'));
      if (o.accepted) skipped += o.skipped;
    }
    expect(await fleet.redis.zcard(`${fleet.prefix}:ai:firstseen:main`)).toBe(100);
    expect(await fleet.redis.zcard(`${fleet.prefix}:ai:candidates:main`)).toBe(5);
    expect(skipped).toBe(115);
    expect((await p.take('main')).candidate?.viewer).toBe('twitch:119');
  });
});
