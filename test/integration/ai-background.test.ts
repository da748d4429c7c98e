import path from 'node:path';
import type { Job } from 'bullmq';
import type { Utterance } from '../../queues/utterance.schema';
import { Memory } from '../../src/ai/memory';
import { aiParts } from '../../src/ai/reply-parts';
import type { Deps } from '../../src/deps';
import { createMetrics } from '../../src/metrics';
import { handle } from '../../workers/reply.worker';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiLog } from '../helpers/ai-fleet';
import { eventually, type TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

/** The AI's own jobs in the running fleet: idle talk on its job scheduler and the viewer summaries, both run by `idolcast worker reply`. */
describe('AI background work wired into the fleet (real processes and Redis, loopback model)', () => {
  let fake: FakeLlm;
  let fleet: TestFleet;
  beforeEach(async () => {
    fake = new FakeLlm();
    await fake.ready;
  });
  afterEach(async () => {
    await fake.close();
    await fleet?.close();
  });
  const aiLines = async () =>
    ((await fleet.queues.queue('tts').getJobs(['waiting', 'prioritized'])) as Job<Utterance>[]).map((j) => j.data).filter((u) => u.origin.platform === 'ai');

  it('quiet chat → the idol starts a topic on every channel, once across two reply workers and within the hourly cap; SIGTERM stops a worker cleanly', async () => {
    fleet = aiFleet(fake, { idle: { afterMs: 5000, maxPerHour: 1, topics: ['rainy days'], sources: ['topics'] }, reply: { slotTtlMs: 3000 } });
    fleet.configure({ channels: { second: { live: { dir: path.join(fleet.dir, 'live2') } } } });
    fake.reply.openai = '[happy] Does anyone like rainy days? I do.';
    const ingest = fleet.start(['ingest']);
    const workers = [fleet.start(['worker', 'reply']), fleet.start(['worker', 'reply'])];
    await Promise.all([ingest.waitForLog('ingest ready'), ...workers.map((w) => w.waitForLog('worker ready'))]);
    const lines = await eventually(async () => {
      const l = await aiLines();
      return l.length >= 4 ? l : undefined;
    }, 'an idle line (two sentences) on both channels', 30000, 200);
    expect(lines.map((l) => [l.channel, l.text, l.emotion]).sort()).toEqual([
      ['main', 'Does anyone like rainy days?', 'happy'], ['main', 'I do.', 'happy'],
      ['second', 'Does anyone like rainy days?', 'happy'], ['second', 'I do.', 'happy'],
    ]);
    // The topic went to the model as data, and each channel's line was started by one worker only.
    expect(fake.requests.filter((r) => r.provider === 'openai').map((r) => JSON.stringify(r.body))).toEqual([expect.stringContaining('<topic>rainy days</topic>'), expect.stringContaining('<topic>rainy days</topic>')]);
    const started = () => workers.flatMap((w) => w.lines.filter((l) => l.msg === 'idle talk queued for speech').map((l) => String(l.channel)));
    expect((await eventually(async () => (started().length >= 2 ? started() : undefined), 'both idle lines logged')).sort()).toEqual(['main', 'second']);
    // The idol's own words are in the conversation it remembers.
    const memory = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog });
    expect(await memory.history('second')).toEqual([{ text: 'Does anyone like rainy days? I do.' }]);

    workers[0]!.kill('SIGTERM');
    expect(await workers[0]!.exited).toEqual({ code: 0, signal: null });
  });

  it('a viewer\'s lines → a summary job after summaryEvery of them → the reply worker writes the summary through the model chain', async () => {
    fleet = aiFleet(fake, { idle: { enabled: false }, memory: { summaryEvery: 2 }, reply: { sampleRate: 0, greetFirstTimers: false, answerQuestions: false } });
    const worker = fleet.start(['worker', 'reply']);
    await worker.waitForLog('worker ready');
    const chat = testPipeline(fleet);
    fake.reply.openai = 'Mika has a cat named Biscuit and plays chess.';
    await chat.pipeline.accept(chatEvent('I just got a cat named Biscuit', { user: { login: 'mika' } }));
    await chat.pipeline.accept(chatEvent('also I play chess', { user: { login: 'mika' } }));
    const memory = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog });
    const summary = await eventually(async () => (await memory.summary('main', 'twitch:id-mika')) || undefined, 'the summary written', 20000, 100);
    expect(summary).toBe('Mika has a cat named Biscuit and plays chess.');
    expect((await memory.waitingLines('main', 'twitch:id-mika')).count).toBe(0);
    expect(await aiLines()).toEqual([]); // notes are never spoken
    expect(await worker.waitForLog('viewer summary job done', { channel: 'main', outcome: 'updated' })).toBeDefined();
  });

  it('an idle tick starts nothing while the kill switch is off, the fleet is degraded, or a chat message waits for its reply', async () => {
    fleet = aiFleet(fake, { idle: { afterMs: 5000, maxPerHour: 10 }, reply: { slotTtlMs: 3000 } });
    const now = Date.now();
    const ai = aiParts({ ...fleet, log: aiLog, metrics: createMetrics('worker-reply', 'test') }, { waitVoiced: false });
    const deps: Deps = { ...fleet, metrics: createMetrics('worker-reply', 'test'), publish: async () => {}, log: aiLog, attempt: 1, job: { id: 'tick', scheduledFor: now }, speech: undefined as never, ai };
    try {
      await fleet.redis.hset(`${fleet.prefix}:ai:idle:main`, 'lastChatAt', now - 60_000); // chat quiet for a minute
      await ai.switch.set(false, 'test');
      expect(await handle({ task: 'idle' }, deps)).toEqual({ skipped: 'ai off' });
      await ai.switch.set(true, 'test');
      await fleet.redis.set(fleet.keys.degradation, JSON.stringify({ level: 1, cause: 'backlog', since: now }), 'PX', 60_000);
      expect(await handle({ task: 'idle' }, deps)).toEqual({ skipped: 'degraded' });
      await fleet.redis.del(fleet.keys.degradation);
      await ai.policy.offer('main', { id: 'm1', viewer: 'twitch:1', name: 'ann', text: 'anyone here?' });
      // Once the worker reads the level again (its cache lapses), chat still comes first.
      const tick = () => handle({ task: 'idle' }, deps) as Promise<Record<string, unknown>>;
      expect(await eventually(async () => { const r = await tick(); return 'skipped' in r ? undefined : r; }, 'the level read again')).toEqual({ started: [] });
      await fleet.redis.del(`${fleet.prefix}:ai:candidates:main`);
      expect(await handle({ task: 'idle' }, deps)).toEqual({ started: ['main'] });
      expect((await aiLines()).map((l) => l.channel)).toEqual(['main', 'main']);
    } finally {
      ai.shutdown();
    }
  });
});
