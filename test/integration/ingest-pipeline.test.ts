import { TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { sleep } from '../../src/time';
import { duplicate } from '../../src/redis';

const mod = { login: 'mod', roles: ['moderator' as const] };

describe('command processor on real Redis', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());
  const ttsJobs = async () => (await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting', 'delayed'], 0, -1)).map((j) => j.data as { utteranceId: string; text: string; priority: number; expiresAt?: number; voice: string });

  it('speaks plain chat with a time-to-live, runs !say, ignores unknown commands', async () => {
    fleet = new TestFleet();
    const { pipeline } = testPipeline(fleet);
    const out = await Promise.all([pipeline.accept(chatEvent('hello idol')), pipeline.accept(chatEvent('!say good morning')), pipeline.accept(chatEvent('!dance'))]);
    expect(out.map((o) => o.decision)).toEqual(['spoken', 'command', 'ignored']);
    const jobs = await ttsJobs();
    expect(jobs.map((j) => j.text).sort()).toEqual(['good morning', 'hello idol']);
    const plain = jobs.find((j) => j.text === 'hello idol')!;
    expect(plain.expiresAt! - Date.now()).toBeGreaterThan(fleet.config.chat.load.plainTtlMs - 5000);
  });

  it('a deep backlog under a steady trickle: at most one summary line per summaryEveryMs, counting every shed message', async () => {
    fleet = new TestFleet({ chat: { load: { shedDepth: 1, summaryEveryMs: 60_000 } } });
    const { pipeline } = testPipeline(fleet);
    expect(await pipeline.accept(chatEvent('the first fills the backlog'))).toMatchObject({ decision: 'spoken' });
    await sleep(300); // the backlog depth is cached for 250 ms
    // One message per batch, as a quiet but steady chat arrives.
    const shed = [];
    for (let i = 0; i < 5; i++) shed.push(await pipeline.accept(chatEvent(`trickle ${i}`, { user: { login: `t${i}` } })));
    expect(shed.every((o) => o.decision === 'shed')).toBe(true);
    const summaries = (await ttsJobs()).filter((j) => j.utteranceId.endsWith('-summary'));
    expect(summaries).toHaveLength(1);
  });

  it('processes a platform message once, even when two ingest replicas both receive it', async () => {
    fleet = new TestFleet({ chat: { load: { shedDepth: 1000 } } });
    const a = testPipeline(fleet).pipeline;
    const b = testPipeline(fleet).pipeline;
    const events = Array.from({ length: 50 }, (_, i) => chatEvent(`message number ${i}`, { user: { login: `u${i}` } }));
    const outcomes = await Promise.all([...events.map((e) => a.accept(e)), ...events.map((e) => b.accept({ ...e }))]);
    expect(outcomes.filter((o) => o.decision === 'spoken')).toHaveLength(50);
    expect(outcomes.filter((o) => o.decision === 'duplicate')).toHaveLength(50);
    expect(await ttsJobs()).toHaveLength(50);
  });

  it('rate limits each user with a token bucket and suppresses repeats; moderators bypass', async () => {
    fleet = new TestFleet({ chat: { filter: { rateLimit: { capacity: 3, perSecond: 0.1 } } } });
    const { pipeline } = testPipeline(fleet);
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => pipeline.accept(chatEvent(`different text ${i}`, { user: { login: 'fast' } }))));
    expect(burst.map((o) => o.reason)).toEqual(['plain message', 'plain message', 'plain message', 'rate limited', 'rate limited', 'rate limited']);
    const repeat = [await pipeline.accept(chatEvent('same again', { user: { login: 'rep' } })), await pipeline.accept(chatEvent('SAME again', { user: { login: 'rep' } }))];
    expect(repeat.map((o) => o.reason)).toEqual(['plain message', 'repeated']);
    const mods = await Promise.all(Array.from({ length: 6 }, () => pipeline.accept(chatEvent('moderator says hi', { user: mod }))));
    expect(mods.every((o) => o.decision === 'spoken')).toBe(true);
  });

  it('a message refused by a later check (a repeat) takes no token; the bucket carries over from batch to batch', async () => {
    fleet = new TestFleet({ chat: { filter: { rateLimit: { capacity: 2, perSecond: 0.1 } } } });
    const { pipeline } = testPipeline(fleet);
    const say = (text: string) => pipeline.accept(chatEvent(text, { user: { login: 'steady' } }));
    // One at a time: each its own batch, so the bucket is read back from Redis every time.
    expect(await say('hello one')).toEqual({ decision: 'spoken', reason: 'plain message' });
    expect(await say('hello one')).toEqual({ decision: 'rejected', reason: 'repeated' });
    expect(await say('hello two')).toEqual({ decision: 'spoken', reason: 'plain message' });
    expect(await say('hello three')).toEqual({ decision: 'rejected', reason: 'rate limited' });
    expect(await say('hello four')).toEqual({ decision: 'rejected', reason: 'rate limited' });
  });

  it('a batch that could not be enqueued takes back its seen id, repeat mark and token: the redelivered message is processed, once', async () => {
    fleet = new TestFleet({ chat: { filter: { rateLimit: { capacity: 1, perSecond: 0.1 } } } }); // one token: a kept one would refuse the redelivery
    const { pipeline } = testPipeline(fleet);
    const real = fleet.queues.enqueueBulk.bind(fleet.queues);
    let down = true;
    jest.spyOn(fleet.queues, 'enqueueBulk').mockImplementation(async (...args) => {
      if (down) throw new Error('redis went away');
      return real(...args);
    });
    const e = chatEvent('hello once more');
    await expect(pipeline.accept(e)).rejects.toThrow('redis went away');
    down = false;
    expect(await pipeline.accept(e)).toEqual({ decision: 'spoken', reason: 'plain message' });
    expect(await pipeline.accept(e)).toEqual({ decision: 'duplicate', reason: 'already seen' });
    expect((await ttsJobs()).map((j) => j.text)).toEqual(['hello once more']);
  });

  it('holds permissions and cooldowns, and cooldowns survive an ingest restart', async () => {
    fleet = new TestFleet({ chat: { commands: [{ name: 'hug', cooldown: { globalMs: 60000, userMs: 0 }, actions: [{ say: '{user} sends a hug' }] }] } });
    const first = testPipeline(fleet).pipeline;
    expect(await first.accept(chatEvent('!scene Karaoke'))).toEqual({ decision: 'rejected', reason: 'permission' });
    expect(await first.accept(chatEvent('!scene Karaoke', { user: mod }))).toEqual({ decision: 'command', reason: 'scene' });
    expect((await fleet.queues.queue('scene').getJobs(['waiting']))[0]!.data).toEqual({ channel: 'main', scene: 'Karaoke' });
    expect(await first.accept(chatEvent('!hug'))).toEqual({ decision: 'command', reason: 'hug' });
    // A new process (an ingest restart) sees the same cooldown: it lives in Redis.
    const second = testPipeline(fleet).pipeline;
    expect(await second.accept(chatEvent('!hug', { user: { login: 'other' } }))).toEqual({ decision: 'rejected', reason: 'cooldown' });
  });

  it('a flood of 10,000 messages from 500 users: no crash, each accepted line enqueued once, every rejection counted, paid events all kept', async () => {
    fleet = new TestFleet({ chat: { load: { shedDepth: 200 } } });
    const { pipeline, metrics } = testPipeline(fleet);
    const events = Array.from({ length: 10_000 }, (_, i) =>
      chatEvent(i % 200 === 0 ? `take my bits ${i}` : `message ${i} from the crowd`, {
        user: { login: `user${i % 500}` },
        ...(i % 200 === 0 ? { paid: { amount: 100, currency: 'bits' } } : {}),
      }),
    );
    const outcomes = await Promise.all(events.map((e) => pipeline.accept(e)));
    const by = (d: string) => outcomes.filter((o) => o.decision === d).length;
    expect(outcomes).toHaveLength(10_000);
    expect(by('reaction')).toBe(50);
    expect(by('spoken') + by('shed') + by('rejected') + by('reaction')).toBe(10_000);
    expect(by('rejected')).toBeGreaterThan(0);
    expect(new Set(outcomes.filter((o) => o.decision === 'rejected').map((o) => o.reason))).toEqual(new Set(['rate limited']));
    const jobs = await ttsJobs();
    const ids = jobs.map((j) => j.utteranceId);
    expect(new Set(ids).size).toBe(ids.length);
    const summaries = jobs.filter((j) => j.utteranceId.endsWith('-summary')).length;
    expect(jobs.length).toBe(by('spoken') + by('reaction') + summaries);
    // Paid events are above plain chat and none was shed.
    expect(jobs.filter((j) => j.text.includes('cheered 100 bits'))).toHaveLength(50);
    const counted = (await metrics.chatDecisions.get()).values.reduce((s, v) => s + v.value, 0);
    expect(counted).toBe(10_000);
  });

  it('hostile text is filtered or truncated with a decision, never a crash', async () => {
    fleet = new TestFleet();
    const { pipeline } = testPipeline(fleet);
    const hostile = [
      'a'.repeat(1024 * 1024),
      'bell\u0007 null\u0000 escape\u001b[31m red',
      'z\u0301\u0302\u0303\u0304\u0305\u0306\u0307a\u0308\u0309\u030a\u030b\u030clgo',
      "$(rm -rf /) `id` ; echo pwned | sh",
      "drawtext=text='%{pts}':x=1\\,y=2 \\ \\\\",
    ];
    const outcomes = await Promise.all(hostile.map((t, i) => pipeline.accept(chatEvent(t, { user: { login: `h${i}` } }))));
    // Each gets a decision; shell and filter syntax stay inert text (spoken, never interpreted).
    expect(outcomes.map((o) => o.decision)).toEqual(['spoken', 'spoken', 'spoken', 'spoken', 'spoken']);
    expect(outcomes[0]!.reason).toBe('plain message (truncated)');
    const texts = (await ttsJobs()).map((j) => j.text);
    expect(texts).toContain(hostile[3]);
    expect(texts).toContain(hostile[4]);
    expect(await pipeline.accept(chatEvent('%{%{%{\\\\::::\'\'\'', { user: { login: 'h9' } }))).toEqual({ decision: 'rejected', reason: 'symbol flood' });
    expect(texts.find((t) => t.startsWith('aaa'))!.length).toBe(fleet.config.chat.maxLength);
    expect(texts).toContain('bell null escape 31m red'); // brackets are engine markup (espeak-ng's [[phonemes]]): dropped
    expect(texts.some((t) => /\p{M}{3}/u.test(t))).toBe(false);
  });

  it('!clear drops waiting lines and !skip reaches the broadcaster', async () => {
    fleet = new TestFleet();
    const { pipeline } = testPipeline(fleet);
    const sub = duplicate(fleet.redis);
    const controls: string[] = [];
    sub.on('message', (_c: string, m: string) => controls.push(m));
    await sub.subscribe(fleet.keys.control('main'));
    try {
      expect(await pipeline.accept(chatEvent('!clear', { user: mod }))).toEqual({ decision: 'command', reason: 'clear' });
      expect(Number(await fleet.redis.get(fleet.keys.clearedAt('main')))).toBeGreaterThan(Date.now() - 5000);
      await pipeline.accept(chatEvent('!skip', { user: mod }));
      await sleep(100);
      expect(controls.map((c) => JSON.parse(c).action)).toEqual(['skip', 'skip']);
    } finally {
      await sub.quit();
    }
  });
});
