import { LOCAL_ENGINE } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { EspeakEngine } from '../../src/tts/espeak.engine';
import { remoteEngines } from '../../src/tts/remote-engines';
import { SpeechService } from '../../src/tts/speech-service';
import { handle as ttsHandle } from '../../workers/tts.worker';
import type { Payload } from '../../queues/registry';
import { FAKE_KEY, FakeTts } from '../helpers/fake-tts';
import { TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

const log = createLogger('degradation-test', 'silent');

describe('degradation on real Redis: shed plain chat, shorten its time-to-live, cheaper voices', () => {
  let fake: FakeTts;
  let fleet: TestFleet;
  let speech: SpeechService | undefined;
  beforeEach(async () => {
    fake = new FakeTts();
    await fake.ready;
  });
  afterEach(async () => {
    speech?.shutdown();
    await fake.close();
    await fleet?.close();
  });

  it('a deep backlog: plain chat is shed with a counted reason, paid and moderator lines still go in, and level 3 voices chat with the cheaper voice', async () => {
    fleet = new TestFleet({
      // `idol` is a cloud voice; its chain ends in the local `backup`, the cheaper voice.
      voices: { idol: { engine: 'cloud', voice: 'alloy', fallback: ['backup'] }, backup: { engine: LOCAL_ENGINE, voice: 'en-us' } },
      defaultVoice: 'idol',
      tts: { engines: { cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY } }, cache: { enabled: false } },
      chat: { load: { shedDepth: 5, shedPolicy: 'summarise' } },
      degradation: { ttlDepth: 10, voiceDepth: 20, shortTtlMs: 2000 },
    });
    // A backlog nobody works off: 25 lines waiting for synthesis (no tts worker runs).
    const line = (id: string, over: Partial<Payload<'tts'>> = {}): Payload<'tts'> => ({ utteranceId: id, channel: 'main', text: `waiting line ${id}`, voice: 'idol', priority: 2, acceptedAt: Date.now(), origin: { platform: 'test', user: 'x' }, ...over });
    await fleet.queues.enqueueBulk('tts', Array.from({ length: 25 }, (_, i) => ({ payload: line(`backlog-${i}`) })));

    const { pipeline, metrics } = testPipeline(fleet);
    const plain = await pipeline.accept(chatEvent('hello from a busy chat', { user: { login: 'viewer1' } }));
    expect(plain.decision).toBe('shed');
    expect(plain.reason).toMatch(/^degradation level 3 \(cheaper voices\): backlog 25/);
    expect((await metrics.chatShed.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'backlog' }, value: 1 })]);
    expect((await metrics.degradationLevel.get()).values[0]!.value).toBe(3);

    const paid = await pipeline.accept(chatEvent('take my bits', { user: { login: 'patron' }, paid: { amount: 500, currency: 'bits' } }));
    const mod = await pipeline.accept(chatEvent('moderator here, all good', { user: { login: 'mod', roles: ['moderator'] } }));
    expect([paid.decision, mod.decision]).toEqual(['reaction', 'spoken']);
    const waiting = (await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting'], 0, -1)).map((j) => j.data as Payload<'tts'>);
    const paidLine = waiting.find((j) => j.text.includes('cheered 500 bits'))!;
    const modLine = waiting.find((j) => j.text === 'moderator here, all good')!;
    const summary = waiting.find((j) => j.utteranceId.endsWith('-summary'))!;
    expect(paidLine.degradable).toBeUndefined();
    // A moderator's plain line keeps its full time-to-live and its voice.
    expect(modLine).toMatchObject({ voice: 'idol' });
    expect(modLine.degradable).toBeUndefined();
    expect(modLine.expiresAt! - modLine.acceptedAt).toBe(fleet.config.chat.load.plainTtlMs);
    // The shed message is acknowledged in one summary line, itself on the short time-to-live.
    expect(summary).toMatchObject({ degradable: true });
    expect(summary.expiresAt! - summary.acceptedAt).toBe(2000);

    // The level is shared through Redis for the tts workers.
    expect(JSON.parse((await fleet.redis.get(fleet.keys.degradation))!)).toMatchObject({ level: 3, cause: 'backlog' });

    // The tts job processor, in-process: at level 3 a chat line is voiced by the cheaper voice
    // without calling the cloud provider; the paid and the moderator lines keep the cloud voice.
    const engines = { [LOCAL_ENGINE]: new EspeakEngine('espeak-ng', 10000), ...remoteEngines(fleet.config.tts.engines) };
    const workerMetrics = createMetrics('worker-tts', 'test');
    speech = new SpeechService({ config: fleet.config, redis: fleet.redis, keys: fleet.keys, log, metrics: workerMetrics, engines });
    const deps = { ...fleet, log, metrics: workerMetrics, speech, publish: async () => {}, attempt: 1, job: { id: 't', scheduledFor: Date.now() } };
    const chatLine = line('chat-1', { text: 'a viewer line under load', degradable: true, expiresAt: Date.now() + 30_000 });
    expect(await ttsHandle(chatLine, deps)).toMatchObject({ voices: ['backup'] });
    expect(fake.count('openai')).toBe(0);
    expect((await workerMetrics.cheaperVoice.get()).values).toEqual([expect.objectContaining({ labels: { voice: 'idol', cheaper: 'backup' }, value: 1 })]);
    expect(await ttsHandle(paidLine, deps)).toMatchObject({ voices: ['idol'] });
    expect(await ttsHandle(modLine, deps)).toMatchObject({ voices: ['idol'] });
    expect(fake.count('openai')).toBe(2);

    // From level 2, plain chat already waiting longer than the short time-to-live is dropped as stale.
    const old = line('chat-old', { degradable: true, acceptedAt: Date.now() - 3000, expiresAt: Date.now() + 27_000 });
    expect(await ttsHandle(old, deps)).toEqual({ dropped: 'stale' });
    expect((await workerMetrics.speechDropped.get()).values).toEqual([expect.objectContaining({ labels: { stage: 'tts', reason: 'stale' }, value: 1 })]);
  });

  it('the level falls back step by step once the backlog drains, each change logged and shared', async () => {
    fleet = new TestFleet({ chat: { load: { shedDepth: 3 } }, degradation: { ttlDepth: 6, voiceDepth: 9, holdMs: 0 } });
    const { pipeline } = testPipeline(fleet);
    const monitor = pipeline.degradation;
    const q = fleet.queues.queue('tts');
    await fleet.queues.enqueueBulk('tts', Array.from({ length: 7 }, (_, i) => ({ payload: { utteranceId: `b${i}`, channel: 'main', text: 'x', voice: 'default', priority: 2, acceptedAt: Date.now(), origin: { platform: 'test', user: 'x' } } })));
    expect((await monitor.sample()).level).toBe(2);
    await q.obliterate({ force: true });
    const levels: number[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 260)); // past the sample cache
      levels.push((await monitor.sample()).level);
    }
    expect(levels).toEqual([1, 0, 0, 0]);
    await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse((await fleet.redis.get(fleet.keys.degradation))!)).toMatchObject({ level: 0 });
  });
});
