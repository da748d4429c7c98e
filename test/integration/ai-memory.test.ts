import path from 'node:path';
import { Memory } from '../../src/ai/memory';
import { updateSummary } from '../../src/ai/memory-summary';
import { createRedis } from '../../src/redis';
import { TestFleet, eventually } from '../helpers/fleet';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiLog, aiReplica } from '../helpers/ai-fleet';

const texts = async (m: Memory, channel: string, viewer: string) => (await m.waitingLines(channel, viewer)).texts;

describe('AI memory: conversation and viewer summaries in Redis (real Redis, loopback model)', () => {
  let fake: FakeLlm;
  let fleet: TestFleet;
  let replica: ReturnType<typeof aiReplica>;
  let memory: Memory;
  const opened: { quit(): Promise<unknown> }[] = [];

  const setup = (memoryCfg: Record<string, unknown> = {}) => {
    fleet = aiFleet(fake, { memory: memoryCfg });
    fleet.configure({ channels: { second: { live: { dir: path.join(fleet.dir, 'live2') } } } });
    replica = aiReplica(fleet);
    memory = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog });
  };
  const summarise = (channel: string, viewer: string) => updateSummary({ ai: fleet.config.ai, memory, chain: replica.chain, gate: replica.gate, log: aiLog }, channel, viewer);

  beforeEach(async () => {
    fake = new FakeLlm();
    await fake.ready;
  });
  afterEach(async () => {
    replica?.shutdown();
    for (const r of opened.splice(0)) await r.quit();
    await fake.close();
    await fleet?.close();
  });

  it('keeps the newest turns within the turn and token bounds, and a new process (a restart) reads the same conversation', async () => {
    setup({ turns: 4, maxTokens: 50 }); // 50 tokens ≈ 200 characters
    for (let i = 1; i <= 6; i++) await memory.recordMessage('main', { viewer: `twitch:${i}`, name: `v${i}`, text: `message number ${i}` });
    await memory.recordReply('main', 'I read all of them!');
    expect((await memory.history('main')).map((t) => t.text)).toEqual(['message number 4', 'message number 5', 'message number 6', 'I read all of them!']);
    await memory.recordMessage('main', { viewer: 'twitch:7', name: 'v7', text: 'x'.repeat(150) });
    // 150 + 19 + 16 characters is over 200 once the next 16 come: the oldest go first.
    await memory.recordMessage('main', { viewer: 'twitch:8', name: 'v8', text: 'y'.repeat(40) });
    const history = await memory.history('main');
    expect(history.map((t) => t.text.length).reduce((a, b) => a + b)).toBeLessThanOrEqual(200);
    expect(history.at(-1)).toEqual({ user: 'v8', text: 'y'.repeat(40) });

    const redis2 = createRedis(fleet.redisUrl);
    opened.push(redis2);
    const restarted = new Memory({ config: fleet.config, redis: redis2, log: aiLog });
    expect(await restarted.history('main')).toEqual(history);
    await expect(memory.history('nope')).rejects.toThrow('no channel named "nope"');
  });

  it('a batch of chat lines is remembered as the same lines one by one would be: the conversation in order, each viewer\'s waiting lines counted', async () => {
    setup({ turns: 3 });
    const lines = [1, 2, 1, 3, 1].map((v, i) => ({ viewer: `twitch:${v}`, name: `v${v}`, text: `line ${i}` }));
    expect(await memory.recordMessages('main', lines)).toEqual([1, 1, 2, 1, 3]);
    expect((await memory.history('main')).map((t) => `${t.user} ${t.text}`)).toEqual(['v1 line 2', 'v3 line 3', 'v1 line 4']);
    expect(await texts(memory, 'main', 'twitch:1')).toEqual(['line 0', 'line 2', 'line 4']);
    await expect(memory.recordMessages('nope', lines)).rejects.toThrow('no channel named "nope"');
  });

  it('a summary is written by the model from the viewer\'s lines, survives a restart and never shows in another channel', async () => {
    setup({ summaryEvery: 2 });
    expect(await memory.recordMessage('main', { viewer: 'twitch:42', name: 'Mika', text: 'I just got a cat named <Biscuit>' })).toBe(1);
    expect(await memory.recordMessage('main', { viewer: 'twitch:42', name: 'Mika', text: 'also I play chess' })).toBe(2);
    fake.reply.openai = 'Mika has a cat called Biscuit and plays chess.';
    expect(await summarise('main', 'twitch:42')).toEqual({ outcome: 'updated', summary: 'Mika has a cat called Biscuit and plays chess.' });
    const asked = JSON.stringify(fake.requests.at(-1)!.body);
    expect(asked).toContain('&lt;Biscuit&gt;'); // the viewer's lines went in as escaped data
    expect(await texts(memory, 'main', 'twitch:42')).toEqual([]);

    const restarted = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog });
    expect(await restarted.summary('main', 'twitch:42')).toBe('Mika has a cat called Biscuit and plays chess.');
    expect(await restarted.summary('second', 'twitch:42')).toBe('');
    expect(await restarted.history('second')).toEqual([]);
    expect(await restarted.randomSummary('main')).toBe('Mika has a cat called Biscuit and plays chess.'); // an idle topic
    expect(await restarted.randomSummary('second')).toBeUndefined();
    expect(await summarise('second', 'twitch:42')).toEqual({ outcome: 'nothing' });
  });

  it('every model down (the chain reaches canned lines) keeps the old summary and the lines wait; a banned word is never stored', async () => {
    setup();
    await memory.recordMessage('main', { viewer: 'twitch:1', name: 'a', text: 'I like trains' });
    fake.reply.openai = 'Likes trains.';
    await summarise('main', 'twitch:1');
    await memory.recordMessage('main', { viewer: 'twitch:1', name: 'a', text: 'I moved to Oslo' });
    fake.faults.openai = '500';
    fake.faults.anthropic = '500';
    expect(await summarise('main', 'twitch:1')).toEqual({ outcome: 'kept', reason: 'no model answered (canned)' });
    expect(await memory.summary('main', 'twitch:1')).toBe('Likes trains.');
    expect(await texts(memory, 'main', 'twitch:1')).toEqual(['I moved to Oslo']);

    fake.faults.anthropic = 'ok';
    fake.reply.anthropic = 'Likes trains and says frobnicate a lot.';
    expect(await summarise('main', 'twitch:1')).toEqual({ outcome: 'kept', reason: 'banned word' });
    expect(await memory.summary('main', 'twitch:1')).toBe('Likes trains.');
  });

  it('forget removes the viewer from every channel at once, including their conversation lines, and a summary being written meanwhile is not stored', async () => {
    setup();
    for (const channel of ['main', 'second']) {
      await memory.recordMessage(channel, { viewer: 'youtube:UC1', name: 'Sam', text: `I am Sam in ${channel}` });
      await memory.recordMessage(channel, { viewer: 'youtube:UC2', name: 'Kim', text: 'hello' });
    }
    fake.reply.openai = 'Sam is Sam. Nothing else.';
    fake.holdAfter = 2; // the model is still writing when the viewer asks to be forgotten
    const writing = summarise('main', 'youtube:UC1');
    await eventually(async () => (fake.count('openai') > 0 ? true : undefined), 'the model asked');
    expect(await memory.forget(undefined, 'youtube:UC1')).toBeGreaterThan(0);
    await memory.recordMessage('main', { viewer: 'youtube:UC1', name: 'Sam', text: 'I am back' }); // after forgetting: new lines, not the old
    fake.release();
    expect(await writing).toEqual({ outcome: 'forgotten' });
    expect(await memory.summary('main', 'youtube:UC1')).toBe('');
    expect(await texts(memory, 'main', 'youtube:UC1')).toEqual(['I am back']);
    await memory.forget('main', 'youtube:UC1');
    for (const channel of ['main', 'second']) {
      expect(await memory.summary(channel, 'youtube:UC1')).toBe('');
      expect(await texts(memory, channel, 'youtube:UC1')).toEqual([]);
      expect((await memory.history(channel)).map((t) => t.user)).toEqual(['Kim']);
      expect(await texts(memory, channel, 'youtube:UC2')).toEqual(['hello']);
    }
    expect(await fleet.redis.keys(`${fleet.prefix}:ai:*UC1*`)).toEqual([]);
  });

  it('keeps at most maxViewersPerChannel viewers, forgetting the longest unseen with their keys; odd viewer ids become hashed keys', async () => {
    let now = 1_000_000;
    setup({ maxViewersPerChannel: 10 });
    memory = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog, now: () => now++ });
    for (let i = 0; i < 12; i++) await memory.recordMessage('main', { viewer: `twitch:${i}`, name: `v${i}`, text: 'hi' });
    await memory.recordMessage('main', { viewer: 'tiktok:a b/../\n*', name: 'odd', text: 'hi' });
    expect(await fleet.redis.zcard(`${fleet.prefix}:ai:viewers:main`)).toBe(10);
    expect(await texts(memory, 'main', 'twitch:0')).toEqual([]);
    expect(await texts(memory, 'main', 'twitch:2')).toEqual([]);
    expect(await texts(memory, 'main', 'twitch:11')).toEqual(['hi']);
    expect(await texts(memory, 'main', 'tiktok:a b/../\n*')).toEqual(['hi']);
    const lineKeys = await fleet.redis.keys(`${fleet.prefix}:ai:lines:main:*`);
    expect(lineKeys).toHaveLength(10);
    expect(lineKeys.every((k) => /^[\w:.@~-]+$/.test(k))).toBe(true);
  });
});
