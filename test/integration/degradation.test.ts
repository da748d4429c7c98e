import net from 'node:net';
import { LOCAL_ENGINE } from '../../src/config/schema';
import { createRedis } from '../../src/redis';
import { DegradationMonitor } from '../../src/degradation';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { EspeakEngine } from '../../src/tts/espeak.engine';
import { remoteEngines } from '../../src/tts/remote-engines';
import { SpeechService } from '../../src/tts/speech-service';
import { handle as audioHandle } from '../../workers/audio.worker';
import { handle as ttsHandle } from '../../workers/tts.worker';
import type { Payload } from '../../queues/registry';
import { FAKE_KEY, FakeTts } from '../../testkit/fake-tts';
import { TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { sleep } from '../../src/time';
import { SpeechStore } from '../../src/speech-store';

const log = createLogger('degradation-test', 'silent');

/** A loopback proxy to Redis that holds every reply back `delayMs`: a slow Redis, as the fleet sees one. */
async function slowRedisProxy(target: string, delayMs: number) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => setTimeout(() => client.writable && client.write(d), delayMs));
    for (const s of [client, upstream]) s.on('error', () => {}).on('close', () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as net.AddressInfo;
  return { url: `redis://127.0.0.1:${addr.port}`, close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))) };
}

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
    // So at the later stages: a line voiced before the fleet degraded is not encoded either.
    const store = new SpeechStore(fleet.redis, fleet.keys, fleet.config);
    await store.putRaw('chat-voiced', 0, Buffer.alloc(4800));
    const voiced = { ...line('chat-voiced', { degradable: true, acceptedAt: Date.now() - 3000, expiresAt: Date.now() + 27_000 }), part: 0, parts: 1, engine: LOCAL_ENGINE, format: { sampleRate: 24000, channels: 1 } };
    expect(await audioHandle(voiced, deps)).toEqual({ dropped: 'stale' });
    expect(await store.handedOverBytes('chat-voiced', 0)).toBe(0);
  });

  it('a slow Redis alone raises the level (round trip measured by PING), with an empty backlog', async () => {
    fleet = new TestFleet({ degradation: { redisRttMs: { shed: 40, ttl: 100, voice: 1000 } } });
    const proxy = await slowRedisProxy(fleet.redisUrl, 120);
    const slow = createRedis(proxy.url);
    try {
      // Only the round trip goes through the slow connection; the backlog is counted as usual.
      const metrics = createMetrics('ingest', 'test');
      const monitor = new DegradationMonitor({ ...fleet, redis: slow, log, metrics });
      let reading = await monitor.sample();
      for (let i = 0; i < 2; i++) {
        await sleep(260);
        reading = await monitor.sample();
      }
      expect(reading).toMatchObject({ level: 2, cause: 'redis_rtt', backlog: 0 });
      expect(reading.rttMs).toBeGreaterThanOrEqual(100);
      expect((await metrics.redisRoundTrip.get()).values[0]!.value).toBeGreaterThanOrEqual(0.1);
    } finally {
      slow.disconnect();
      await proxy.close();
    }
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
      await sleep(260); // past the sample cache
      levels.push((await monitor.sample()).level);
    }
    expect(levels).toEqual([1, 0, 0, 0]);
    await sleep(50);
    expect(JSON.parse((await fleet.redis.get(fleet.keys.degradation))!)).toMatchObject({ level: 0 });
  });
});
