import type { Job } from 'bullmq';
import type { Payload } from '../../queues/registry';
import type { Utterance } from '../../queues/utterance.schema';
import { aiParts, type AiParts } from '../../src/ai/reply-parts';
import type { Deps } from '../../src/deps';
import { createMetrics } from '../../src/metrics';
import { replyJob } from '../../src/chat/ai-chat';
import { handle } from '../../workers/reply.worker';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiLog } from '../helpers/ai-fleet';
import { eventually, runCli, type TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

describe('AI replies wired in: chat → reply policy → reply job → approved sentences as tts lines (real Redis, loopback model)', () => {
  let fake: FakeLlm;
  let fleet: TestFleet;
  let ai: AiParts;
  let chat: ReturnType<typeof testPipeline>;

  /** A reply worker's AI parts; by default without the wait for its lines to be voiced (no audio worker runs here). */
  const parts = (waitVoiced = false) => aiParts({ ...fleet, log: aiLog, metrics: createMetrics('worker-reply', 'test') }, { waitVoiced });
  /** The reply handler's deps as the worker runtime builds them (no speech service: it only queues lines). */
  const deps = (): Deps => ({
    config: fleet.config, redis: fleet.redis, keys: fleet.keys, queues: fleet.queues, metrics: createMetrics('worker-reply', 'test'),
    publish: async () => {}, log: aiLog, attempt: 1, job: { id: 'test', scheduledFor: Date.now() }, speech: undefined as never, ai,
  });
  const replyJobs = async () => (await fleet.queues.queue('reply').getJobs(['waiting', 'delayed', 'prioritized'])) as Job<Payload<'reply'>>[];
  /** The AI's tts lines, in the order the playout airs equal-priority lines (accept order). */
  const aiLines = async () =>
    ((await fleet.queues.queue('tts').getJobs(['waiting', 'prioritized'])) as Job<Utterance>[])
      .map((j) => j.data)
      .filter((u) => u.origin.platform === 'ai')
      .sort((a, b) => a.order! - b.order!);
  const say = (text: string, over: Parameters<typeof chatEvent>[1] = {}) => chat.pipeline.accept(chatEvent(text, over));
  /** Run the reply job the chat made, as the reply worker would. */
  const runReplyJob = async () => {
    const [job] = await replyJobs();
    expect(job).toBeDefined();
    return handle(job!.data, deps());
  };

  beforeEach(async () => {
    fake = new FakeLlm();
    await fake.ready;
    fleet = aiFleet(fake, { reply: { channelCooldownMs: 0, userCooldownMs: 0, sampleRate: 0 } });
    ai = parts();
    chat = testPipeline(fleet);
  });
  afterEach(async () => {
    ai.shutdown();
    await fake.close();
    await fleet.close();
  });

  it('a question in chat → one reply job for the channel → its sentences queued as tts lines in order, together, with their emotions', async () => {
    fake.reply.openai = '[happy] I am great, thanks! [thinking] What about you?';
    const [ann] = await Promise.all([say('Aiko, how are you?', { user: { login: 'ann' } }), say('anyone else here?', { user: { login: 'bob' } })]);
    expect(ann).toMatchObject({ decision: 'spoken' });
    expect(await replyJobs()).toHaveLength(1); // one batch, one channel: one job (across batches, one per pick window)
    expect(await runReplyJob()).toEqual({ sentences: 2 });
    const lines = await aiLines();
    expect(lines.map((l) => [l.text, l.emotion])).toEqual([
      ['I am great, thanks!', 'happy'],
      ['What about you?', 'thinking'],
    ]);
    expect(lines[1]!.order).toBe(lines[0]!.order! + 1);
    expect(new Set(lines.map((l) => l.priority)).size).toBe(1);
    // A chat line accepted after the reply started airs after all of it (same priority, later order).
    await say('late line', { user: { login: 'cyd' } });
    const late = (await fleet.queues.queue('tts').getJobs(['prioritized'])).map((j) => j.data as Utterance).find((u) => u.text === 'late line')!;
    expect(late.order).toBeGreaterThan(lines[1]!.order!);
    // The reply is remembered, and the slot given back.
    expect((await ai.memory.history('main')).map((t) => t.text)).toContain('I am great, thanks! What about you?');
    expect((await ai.policy.depth('main')).inFlight).toBe(0);
  });

  it('!ask <text> asks the idol; a model that trickles has its first sentence queued for speech before it finished writing', async () => {
    fake.faults.openai = 'trickle';
    fake.holdAfter = 4; // "Hello from the cloud. " then the stream waits
    expect(await say('!ask tell me something')).toMatchObject({ decision: 'command', reason: 'ask' });
    const replying = runReplyJob();
    const first = await eventually(async () => (await aiLines())[0], 'the first sentence as a tts line');
    expect(first.text).toBe('Hello from the cloud.');
    expect(fake.finished.openai).toBe(0); // the model has not finished writing
    fake.release();
    expect(await replying).toEqual({ sentences: 2 });
    expect(fake.finished.openai).toBe(1);
    expect((await aiLines()).map((l) => l.text)).toEqual(['Hello from the cloud.', 'How are you today?']);
    expect(fake.requests[0]!.body.messages).toEqual(expect.arrayContaining([expect.objectContaining({ content: expect.stringContaining('tell me something') })]));
  });

  it('kill switch: a moderator\'s !ai off → no reply job from chat, and a job already queued speaks nothing; !ai on → replies again', async () => {
    await say('how is everyone?');
    expect(await replyJobs()).toHaveLength(1);
    await say('!ai off', { user: { login: 'mod', roles: ['moderator'] } });
    expect(chat.replies).toContainEqual({ to: 'mod', text: 'AI replies are off' });
    expect(await runReplyJob()).toEqual({ skipped: 'ai off' });
    expect(await aiLines()).toEqual([]);
    await fleet.queues.queue('reply').obliterate({ force: true });
    await say('still nobody answers?');
    await say('!ask anyone home?', { user: { login: 'gus' } });
    expect(await replyJobs()).toHaveLength(0);
    expect(chat.replies).toContainEqual({ to: 'gus', text: '@gus AI replies are off right now' });
    await say('!ai off', { user: { login: 'viewer2' } }); // not a moderator: refused, the state stays
    await say('!ai on', { user: { login: 'mod', roles: ['moderator'] } });
    await say('now?', { user: { login: 'dan' } });
    ai.shutdown();
    ai = parts(); // a worker whose switch read is not cached
    expect(await runReplyJob()).toEqual({ sentences: 2 });
  });

  it('reply jobs collapse per channel and pick window', async () => {
    for (const at of [10_000, 10_001, 14_999]) await fleet.queues.enqueue('reply', replyJob('main', 5000, at));
    await fleet.queues.enqueue('reply', replyJob('main', 5000, 15_000));
    expect((await replyJobs()).map((j) => j.id).sort()).toEqual(['reply-main-10000', 'reply-main-15000']);
  });

  it('!forgetme removes what the idol remembers about that viewer, and only them', async () => {
    await say('I love cats', { user: { login: 'eve' } });
    await say('I love dogs', { user: { login: 'fay' } });
    const texts = async () => (await ai.memory.history('main')).map((t) => t.text);
    expect(await texts()).toEqual(['I love cats', 'I love dogs']);
    expect(await say('!forgetme', { user: { login: 'eve' } })).toMatchObject({ decision: 'command', reason: 'forgetme' });
    expect(await texts()).toEqual(['I love dogs']);
    expect(chat.replies).toContainEqual({ to: 'eve', text: '@eve I forgot what I knew about you' });
  });

  it('every model down → the canned line is queued, so the idol still answers', async () => {
    fake.faults.openai = '500';
    fake.faults.anthropic = '500';
    await say('are you there?');
    expect(await runReplyJob()).toEqual({ sentences: 1 });
    expect((await aiLines()).map((l) => [l.text, l.emotion])).toEqual([['A canned answer.', 'happy']]);
  });

  it('degraded (level 1 and up): plain questions get no reply job, paid messages still do', async () => {
    fleet.configure({ chat: { load: { shedDepth: 1 } } });
    chat = testPipeline(fleet);
    await say('the first fills the backlog');
    await fleet.queues.queue('reply').obliterate({ force: true });
    await eventually(async () => ((await chat.pipeline.degradation.sample()).level >= 1 ? true : undefined), 'degradation level 1');
    expect(await say('what about me?')).toMatchObject({ decision: 'shed' });
    expect(await replyJobs()).toHaveLength(0);
    await say('a paid question?', { paid: { amount: 5, currency: 'USD' } });
    expect(await replyJobs()).toHaveLength(1);
  });

  it('AI replies are shed first: with the backlog at aiShedDepth (below level 1) plain chat is still spoken but a question gets no reply job; a paid one does', async () => {
    fleet.configure({ chat: { load: { shedDepth: 10 } }, degradation: { aiShedDepth: 2 } });
    chat = testPipeline(fleet);
    await say('one line waiting', { user: { login: 'a1' } });
    await say('two lines waiting', { user: { login: 'a2' } });
    await fleet.queues.queue('reply').obliterate({ force: true });
    expect(await say('is anyone answering?', { user: { login: 'a3' } })).toMatchObject({ decision: 'spoken' }); // level 0: plain chat still spoken
    expect(chat.pipeline.degradation.state.current.level).toBe(0);
    expect(await replyJobs()).toHaveLength(0);
    await say('a paid question?', { paid: { amount: 5, currency: 'USD' } });
    expect(await replyJobs()).toHaveLength(1);
  });

  it('idolcast ai off|on|status turns replies off fleet-wide (a reply job then speaks nothing) and idolcast status shows it', async () => {
    expect((await runCli(['ai', 'status'], fleet.env())).stdout).toContain('AI replies on (from the config (ai.enabled))');
    const off = await runCli(['ai', 'off'], fleet.env());
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/^AI replies off \(set by cli:/);
    expect((await runCli(['status'], fleet.env())).stdout).toMatch(/AI +replies OFF \(set by cli:/);
    await fleet.queues.enqueue('reply', { channel: 'main', window: 0 });
    expect(await runReplyJob()).toEqual({ skipped: 'ai off' });
    expect((await runCli(['ai', 'maybe'], fleet.env())).code).not.toBe(0);
    await runCli(['ai', 'on'], fleet.env());
    expect((await runCli(['ai', 'status'], fleet.env())).stdout).toMatch(/^AI replies on \(set by cli:/);
  });

  it('the reply holds its slot until every line of it is voiced, so a reply started later cannot air between them', async () => {
    ai.shutdown();
    ai = parts(true);
    await say('who is there?');
    const replying = runReplyJob();
    const lines = await eventually(async () => ((await aiLines()).length === 2 ? await aiLines() : undefined), 'both lines queued');
    expect((await ai.policy.depth('main')).inFlight).toBe(1);
    // The audio worker's event for the first line: the slot is still held for the second.
    await fleet.redis.publish(fleet.keys.events('main'), JSON.stringify({ type: 'speech-ready', utteranceId: lines[0]!.utteranceId, text: lines[0]!.text }));
    await fleet.redis.publish(fleet.keys.events('main'), JSON.stringify({ type: 'speech-ready', utteranceId: 'someone-else', text: 'x' }));
    expect((await ai.policy.depth('main')).inFlight).toBe(1);
    await fleet.redis.publish(fleet.keys.events('main'), JSON.stringify({ type: 'speech-ready', utteranceId: lines[1]!.utteranceId, text: lines[1]!.text }));
    expect(await replying).toEqual({ sentences: 2 });
    expect((await ai.policy.depth('main')).inFlight).toBe(0);
  });

  it('in a flood the AI hears a sample of the batch (paid always, then questions, then the newest) while every line is still spoken', async () => {
    // A backlog far from shedding: the flood is spoken, and the AI is not shed for the backlog.
    const flood = aiFleet(fake, { reply: { channelCooldownMs: 0, userCooldownMs: 0, sampleRate: 0, heardPerBatch: 4 } }, undefined, { shedDepth: 1000 });
    try {
      const floodChat = testPipeline(flood);
      const plain = Array.from({ length: 60 }, (_, n) => chatEvent(`plain line number ${n}`, { user: { login: `v${n}` } }));
      const question = chatEvent('does anyone know the song?', { user: { login: 'asker' } });
      const paid = chatEvent('take my money', { user: { login: 'payer' }, paid: { amount: 5, currency: 'USD' } });
      // One tick: the ingest takes them as one batch, the question said first, the paid one in the middle.
      const outcomes = await Promise.all([question, ...plain.slice(0, 30), paid, ...plain.slice(30)].map((e) => floodChat.pipeline.accept(e)));
      expect(outcomes.filter((o) => o.decision === 'spoken')).toHaveLength(61);
      const floodAi = aiParts({ ...flood, log: aiLog, metrics: createMetrics('worker-reply', 'test') }, { waitVoiced: false });
      try {
        const waiting = async (login: string) => (await floodAi.memory.waitingLines('main', `twitch:id-${login}`)).texts;
        expect(await waiting('asker')).toEqual(['does anyone know the song?']);
        expect(await waiting('payer')).toEqual(['take my money']);
        expect(await waiting('v59')).toEqual(['plain line number 59']); // the newest two fill the sample
        expect(await waiting('v58')).toEqual(['plain line number 58']);
        expect(await waiting('v0')).toEqual([]); // not heard: not remembered, not a candidate
        expect((await floodAi.policy.depth('main')).waiting).toBe(4); // the paid one, the question, the two newest (first-timers)
        const unheard = await floodChat.metrics.registry.getSingleMetric('idolcast_ai_unheard_total')!.get();
        expect(unheard.values).toEqual([expect.objectContaining({ labels: { channel: 'main' }, value: 58 })]);
      } finally {
        floodAi.shutdown();
      }
    } finally {
      await flood.close();
    }
  });
});

