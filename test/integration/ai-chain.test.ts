import { Redis } from 'ioredis';
import { TokenBudget } from '../../src/ai/budget';
import { toSentences } from '../../src/ai/sentences';
import { buildPrompt } from '../../src/ai/prompt';
import { TestFleet, eventually } from '../helpers/fleet';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiReplica } from '../helpers/ai-fleet';

type Replica = ReturnType<typeof aiReplica>;

describe('AI model chain: fallbacks, shared breakers, deadlines, budgets (loopback OpenAI and Anthropic, real Redis)', () => {
  let fake: FakeLlm;
  let fleet: TestFleet;
  const replicas: Replica[] = [];
  const replica = () => {
    const r = aiReplica(fleet);
    replicas.push(r);
    return r;
  };
  beforeEach(async () => {
    fake = new FakeLlm();
    await fake.ready;
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) r.shutdown();
    await fake.close();
    await fleet?.close();
  });

  it('a healthy primary answers in sentences, with its emotion tags carried and stripped, and its reported tokens counted', async () => {
    fleet = aiFleet(fake);
    fake.reply.openai = '[happy] I am great, thanks! [thinking] What about you?';
    const r = replica();
    const { sentences, end } = await r.reply();
    expect(sentences.map((s) => [s.text, s.emotion, s.engine])).toEqual([
      ['I am great, thanks!', 'happy', 'cloud'],
      ['What about you?', 'thinking', 'cloud'],
    ]);
    expect(end).toMatchObject({ ended: 'done', engine: 'cloud', skipped: [] });
    const spent = await r.chain.budget.spent('cloud');
    expect(spent.output).toBe(9); // the fake's nine word tokens, as its usage chunk reported
    expect(spent.input).toBeGreaterThan(0);
    expect(fake.count('anthropic')).toBe(0);
  });

  it.each(['500', '429', 'malformed'] as const)('primary answering %s → the next engine (Anthropic) answers the same reply', async (fault) => {
    fleet = aiFleet(fake);
    fake.faults.openai = fault;
    const { sentences, end } = await replica().reply();
    expect(sentences.map((s) => s.text)).toEqual(['Hello from Claude.', 'Nice to meet you.']);
    expect(end.engine).toBe('claude');
    expect(end.skipped.map((s) => s.engine)).toEqual(['cloud']);
    expect(fake.count('openai')).toBe(1); // no SDK retries: the chain moves on
    expect((await replica().chain.budget.spent('claude')).output).toBe(7);
  });

  it.each(['500', '429', 'malformed', 'hang'] as const)('Anthropic first in the chain answering %s → the OpenAI-compatible engine answers', async (fault) => {
    fleet = aiFleet(fake, { personas: { idol: { chain: ['claude', 'cloud', 'canned'] } } });
    fake.faults.anthropic = fault;
    const { sentences, end } = await replica().reply();
    expect(sentences.map((s) => s.text)).toEqual(['Hello from the cloud.', 'How are you today?']);
    expect(end).toMatchObject({ ended: 'done', engine: 'cloud', skipped: [{ engine: 'claude', reason: 'failed before its first token' }] });
    expect(fake.count('anthropic')).toBe(1);
  });

  it('Anthropic trickling: its first sentence is out while the model is still writing; breaking mid-stream ends the reply there', async () => {
    fleet = aiFleet(fake, { personas: { idol: { chain: ['claude', 'cloud', 'canned'] } } });
    fake.faults.anthropic = 'trickle';
    fake.holdAfter = 4; // "Hello from Claude. Nice " sent, then the model waits
    const r = replica();
    const persona = fleet.config.ai.personas.idol!;
    const order: string[] = [];
    for await (const s of toSentences(r.chain.run(persona, buildPrompt(persona, { situation: 'idle' }), 'idle').deltas, { maxChars: 200, maxReplyChars: 300 })) {
      order.push(`${s.text} (finished: ${fake.finished.anthropic > 0})`);
      fake.release();
    }
    expect(order).toEqual(['Hello from Claude. (finished: false)', 'Nice to meet you. (finished: true)']);
    fake.holdAfter = undefined;
    fake.faults.anthropic = 'break';
    fake.breakAfter = 4;
    const { sentences, end } = await r.reply();
    expect(sentences.map((s) => s.text)).toEqual(['Hello from Claude.']);
    expect(end).toMatchObject({ ended: 'broken', engine: 'claude' });
    expect(fake.count('openai')).toBe(0);
  });

  it('a reply still streaming at the total deadline is cut there, keeping what went out', async () => {
    fleet = aiFleet(fake, { totalDeadlineMs: 1500 });
    fake.faults.openai = 'trickle';
    fake.trickleMs = 100;
    fake.reply.openai = 'Short start. ' + 'and then it goes on and on '.repeat(20);
    const { sentences, end } = await replica().reply();
    expect(sentences[0]!.text).toBe('Short start.');
    expect(end).toMatchObject({ ended: 'deadline', engine: 'cloud' });
    expect(fake.finished.openai).toBe(0);
    expect(fake.count('anthropic')).toBe(0);
  });

  it('a 429 with Retry-After keeps every replica off that engine until then', async () => {
    fleet = aiFleet(fake);
    fake.faults.openai = '429';
    fake.retryAfterSeconds = 30;
    expect((await replica().reply()).engine).toBe('claude');
    fake.faults.openai = 'ok';
    const second = await replica().reply();
    expect(second.engine).toBe('claude');
    expect(second.end.skipped).toEqual([{ engine: 'cloud', reason: 'rate limited (Retry-After)' }]);
    expect(fake.count('openai')).toBe(1);
    const ttl = await fleet.redis.pttl(`${fleet.prefix}:ai:cooloff:cloud`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30000);
  });

  it('Redis unreachable: the remote engines are not asked (no shared breaker or budget to go by), the canned line answers', async () => {
    fleet = aiFleet(fake);
    const dead = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    const r = aiReplica({ ...fleet, redis: dead } as unknown as TestFleet);
    replicas.push(r);
    try {
      const { sentences, end } = await r.reply();
      expect(sentences.map((s) => s.engine)).toEqual(['canned']);
      expect(end.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^shared state unavailable/), expect.stringMatching(/^shared state unavailable/)]);
      expect(fake.count('openai') + fake.count('anthropic')).toBe(0);
    } finally {
      dead.disconnect();
    }
  });

  it('engines hanging past the total deadline still leave the canned line to answer', async () => {
    fleet = aiFleet(fake, { totalDeadlineMs: 100, firstTokenDeadlineMs: 300 });
    fake.faults.openai = 'hang';
    fake.faults.anthropic = 'hang';
    const { sentences, end } = await replica().reply();
    expect(sentences.map((s) => s.engine)).toEqual(['canned']);
    expect(end).toMatchObject({ ended: 'done', engine: 'canned' });
  });

  it('every model down → the canned line answers', async () => {
    fleet = aiFleet(fake);
    fake.faults.openai = '500';
    fake.faults.anthropic = '429';
    const { sentences, end } = await replica().reply();
    expect(sentences).toEqual([{ index: 0, text: 'A canned answer.', emotion: 'happy', engine: 'canned', canned: true }]);
    expect(end.skipped.map((s) => s.engine)).toEqual(['cloud', 'claude']);
  });

  it('the breaker keeps calls to a dead provider few, on every replica (shared through Redis), and the provider is used again once it is back', async () => {
    fleet = aiFleet(fake);
    fake.faults.openai = '500';
    const a = replica();
    const b = replica();
    for (let i = 0; i < 6; i++) expect((await a.reply()).engine).toBe('claude');
    for (let i = 0; i < 6; i++) expect((await b.reply()).engine).toBe('claude');
    // volumeThreshold 2: two failures open it; the other replica never asks at all.
    expect(fake.count('openai')).toBe(2);
    expect((await b.reply()).end.skipped).toEqual([{ engine: 'cloud', reason: 'breaker open' }]);
    expect(await a.chain.breakers.openNames(['cloud', 'claude'])).toEqual({ cloud: expect.any(Number) });

    fake.faults.openai = 'ok';
    await eventually(async () => ((await a.reply()).engine === 'cloud' ? true : undefined), 'the primary answering again after the reset timeout', 20000, 100);
    expect(await a.chain.breakers.openNames(['cloud'])).toEqual({});
    expect((await b.reply()).engine).toBe('cloud');
  });

  it('a provider that hangs before its first token is abandoned at the first-token deadline, its socket closed, and the next engine answers', async () => {
    fleet = aiFleet(fake);
    fake.faults.openai = 'hang';
    const { sentences, end } = await replica().reply();
    expect(end.engine).toBe('claude');
    expect(sentences).toHaveLength(2);
    expect(end.skipped).toEqual([{ engine: 'cloud', reason: 'failed before its first token' }]);
    expect(fake.count('openai')).toBe(1);
    await eventually(async () => (fake.stalled.size === 0 ? true : undefined), 'the hung request closed by the client');
  });

  it('trickling tokens: the first sentence is out before the model has finished writing', async () => {
    fleet = aiFleet(fake);
    fake.faults.openai = 'trickle';
    fake.reply.openai = 'First sentence here. Then a second one follows slowly. And a third for good measure.';
    fake.holdAfter = 4; // after "First sentence here. Then " the model waits until the first sentence is out
    const r = replica();
    const persona = fleet.config.ai.personas.idol!;
    const run = r.chain.run(persona, buildPrompt(persona, { situation: 'idle' }), 'idle');
    const events: string[] = [];
    for await (const s of toSentences(run.deltas, { maxChars: 200, maxReplyChars: 300 })) {
      events.push(s.index === 0 ? `sentence 0 (model finished: ${fake.finished.openai > 0})` : `sentence ${s.index}`);
      fake.release();
    }
    events.push(`end (model finished: ${fake.finished.openai > 0})`);
    expect(events).toEqual(['sentence 0 (model finished: false)', 'sentence 1', 'sentence 2', 'end (model finished: true)']);
  });

  it.each(['break', 'cut'] as const)('a stream that ends early (%s) after sentences went out ends the reply there: no second model continues it', async (fault) => {
    fleet = aiFleet(fake);
    fake.faults.openai = fault;
    fake.reply.openai = 'One two. Three four five six seven.';
    fake.breakAfter = 4; // "Three four" went out: half a sentence, not spoken
    const { sentences, end } = await replica().reply();
    expect(sentences.map((s) => s.text)).toEqual(['One two.']);
    expect(end).toMatchObject({ ended: 'broken', engine: 'cloud' });
    expect(fake.count('anthropic')).toBe(0);
  });

  it('an engine whose daily token budget is spent is skipped (by every replica) until the day turns; a money budget likewise', async () => {
    fleet = aiFleet(fake, {
      engines: {
        cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: 'test-llm-key', budget: { dailyTokens: 20 } },
        claude: { kind: 'anthropic', baseUrl: fake.url, apiKey: 'test-llm-key', budget: { dailyCost: 0.01, inputPerMillion: 3, outputPerMillion: 15000 } },
        canned: { kind: 'canned' },
      },
    });
    const a = replica();
    expect((await a.reply()).engine).toBe('cloud'); // the first reply spends more than 20 tokens
    const second = await replica().reply();
    expect(second.engine).toBe('claude'); // 7 output tokens at 15000 per million: 0.105, over 0.01
    expect(second.end.skipped[0]).toEqual({ engine: 'cloud', reason: expect.stringMatching(/^daily token budget spent/) });
    const third = await a.reply();
    expect(third.engine).toBe('canned');
    expect(third.end.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^daily token/), expect.stringMatching(/^daily money/)]);
    expect(fake.count('openai')).toBe(1);
    expect(fake.count('anthropic')).toBe(1);
    const status = await a.chain.status();
    expect(status.cloud).toMatchObject({ kind: 'openai', configured: true, tokensLeft: 0 });
    expect(status.claude).toMatchObject({ kind: 'anthropic', costLeft: 0, spent: { output: 7 } });
    expect(status.canned).toMatchObject({ kind: 'canned', configured: true });
    const keys = await fleet.redis.keys(`${fleet.prefix}:ai:usage:*`);
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(await fleet.redis.ttl(k)).toBeGreaterThan(0);
  });

  it('a spent budget lasts until the UTC day turns: the next day the engine is asked again, and each day is counted apart', async () => {
    fleet = aiFleet(fake, { engines: { cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: 'test-llm-key', budget: { dailyCost: 0.5, inputPerMillion: 1_000_000, outputPerMillion: 0 } }, claude: { kind: 'anthropic', baseUrl: fake.url }, canned: { kind: 'canned' } } });
    let now = Date.parse('2026-06-01T23:59:59Z');
    const budget = new TokenBudget(fleet.redis, fleet.prefix, fleet.config.ai.engines, () => now);
    await budget.record('cloud', { input: 1, output: 0 }); // one input token at 1 per token: 1.0, over 0.5
    expect(await budget.exhausted('cloud')).toBe('daily money budget spent (1.0000/0.5)');
    now += 1000; // 00:00:00 UTC the next day
    expect(await budget.exhausted('cloud')).toBeUndefined();
    expect(await budget.spent('cloud')).toEqual({ input: 0, output: 0, cost: 0 });
    now -= 1000;
    expect(await budget.spent('cloud')).toEqual({ input: 1, output: 0, cost: 1 }); // yesterday's figures stay for status
  });
});
