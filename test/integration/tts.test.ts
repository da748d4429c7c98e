import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { handle as ttsHandle } from '../../workers/tts.worker';
import { LOCAL_ENGINE } from '../../src/config/schema';
import { createMetrics } from '../../src/metrics';
import { collectStatus } from '../../src/status/status';
import type { SpeechService } from '../../src/tts/speech-service';
import { TestFleet, eventually } from '../helpers/fleet';
import { FakeTts, type Fault, type Provider } from '../../testkit/fake-tts';
import { quietLog, speechService, ttsFleet } from '../helpers/tts-fleet';
import { sleep } from '../../src/time';

const log = quietLog;
const service = (fleet: TestFleet) => speechService(fleet);

describe('TTS engines, breakers and fallback (loopback providers speaking the real APIs)', () => {
  let fake: FakeTts;
  let fleet: TestFleet;
  const services: SpeechService[] = [];
  beforeEach(async () => {
    fake = new FakeTts();
    await fake.ready;
  });
  afterEach(async () => {
    for (const s of services.splice(0)) s.shutdown();
    await fake.close();
    await fleet?.close();
  });

  it.each(['openai', 'elevenlabs', 'azure'] as Provider[])('%s speaks a line as 24 kHz PCM', async (provider) => {
    fleet = ttsFleet(fake, provider);
    const s = service(fleet);
    services.push(s);
    const part = await s.speakPart('Hello from the cloud voice.', 'idol', log);
    expect(part).toMatchObject({ engine: 'cloud', voice: 'idol', cached: false, format: { sampleRate: 24000, channels: 1 } });
    expect(part.pcm.length).toBeGreaterThan(24000); // ≥ 0.5 s of audio
    expect(fake.requests[0]).toMatchObject({ provider, text: 'Hello from the cloud voice.' });
  });

  it.each(['500', 'hang', 'slow', 'malformed'] as Fault[])('a provider answering %s: the breaker opens, the fallback voice speaks, a half-open probe restores it', async (fault) => {
    fleet = ttsFleet(fake, 'openai');
    const s = service(fleet);
    services.push(s);
    fake.faults.openai = fault;
    for (let i = 0; i < 4; i++) {
      const part = await s.speakPart(`line number ${i} during the ${fault} fault`, 'idol', log);
      expect(part).toMatchObject({ voice: 'backup', engine: LOCAL_ENGINE });
      expect(part.pcm.length).toBeGreaterThan(1000);
    }
    // Two failures opened it: later lines did not even try the provider.
    expect(fake.count('openai')).toBe(2);
    expect(s.breaker('cloud').opened).toBe(true);
    expect(await fleet.redis.exists(`${fleet.keys.prefix}:breaker:cloud`)).toBe(1);

    fake.faults.openai = 'ok';
    await sleep(1600);
    const probe = await s.speakPart('after the reset timeout', 'idol', log);
    expect(probe).toMatchObject({ voice: 'idol', engine: 'cloud' });
    expect(s.breaker('cloud').closed).toBe(true);
    expect(await fleet.redis.exists(`${fleet.keys.prefix}:breaker:cloud`)).toBe(0);
  });

  it('429 with Retry-After is honoured when short, and falls back at once when long', async () => {
    fleet = ttsFleet(fake, 'elevenlabs', { retry: { attempts: 3, baseMs: 50, capMs: 2000 } });
    const s = service(fleet);
    services.push(s);
    fake.faults.elevenlabs = '429';
    fake.retryAfterSeconds = 1;
    const started = Date.now();
    const waiter = s.speakPart('wait for me please', 'idol', log);
    await eventually(async () => (fake.count('elevenlabs') === 1 ? true : undefined), 'the first request');
    fake.faults.elevenlabs = 'ok';
    const part = await waiter;
    expect(part.voice).toBe('idol');
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    fake.faults.elevenlabs = '429';
    fake.retryAfterSeconds = 60;
    const n = fake.count('elevenlabs');
    const quick = await s.speakPart('no time to wait a minute', 'idol', log);
    expect(quick.voice).toBe('backup');
    expect(fake.count('elevenlabs')).toBe(n + 1);
  });

  it('a 401 is not retried: the next voice speaks at once', async () => {
    fleet = ttsFleet(fake, 'openai', { retry: { attempts: 3, baseMs: 50, capMs: 500 } });
    const s = service(fleet);
    services.push(s);
    fake.faults.openai = '401';
    expect((await s.speakPart('wrong key', 'idol', log)).voice).toBe('backup');
    expect(fake.count('openai')).toBe(1);
  });

  it('an open breaker is shared: another replica skips the dead provider without calling it', async () => {
    fleet = ttsFleet(fake, 'azure');
    const a = service(fleet);
    const b = service(fleet);
    services.push(a, b);
    fake.faults.azure = '500';
    await a.speakPart('first failure', 'idol', log);
    await a.speakPart('second failure', 'idol', log);
    expect(a.breaker('cloud').opened).toBe(true);
    const before = fake.count('azure');
    expect((await b.speakPart('replica b speaks', 'idol', log)).voice).toBe('backup');
    expect(fake.count('azure')).toBe(before);
    // What `idolcast status` shows: the engine open, with the time to its next probe.
    const { breakers } = await collectStatus(fleet.config, fleet.redis, fleet.keys, fleet.queues);
    expect(breakers).toEqual([{ engine: 'cloud', state: 'open', probeInMs: expect.any(Number) }]);
  });

  it('the cache serves a repeat without the provider, and eviction keeps it under its bound', async () => {
    fleet = ttsFleet(fake, 'openai');
    const s = service(fleet);
    services.push(s);
    const first = await s.speakPart('Good morning everyone!', 'idol', log);
    const again = await s.speakPart('Good morning everyone!', 'idol', log);
    expect(fake.count('openai')).toBe(1);
    expect(again).toMatchObject({ cached: true, voice: 'idol' });
    expect(again.pcm.equals(first.pcm)).toBe(true);
    // A cache hit works even while the provider is down and its breaker open.
    fake.faults.openai = '500';
    await s.speakPart('one failure', 'idol', log);
    await s.speakPart('two failures', 'idol', log);
    expect((await s.speakPart('Good morning everyone!', 'idol', log)).cached).toBe(true);

    for (let i = 0; i < 6; i++) await s.speakPart(`filler line ${i}`, 'backup', log);
    const size = await s.cache.size();
    const bound = Math.floor(size / 3);
    const evicted = await s.cache.evict(bound);
    expect(evicted).toBeGreaterThan(0);
    expect(await s.cache.size()).toBeLessThanOrEqual(bound);
    // The most recently used entry survived.
    const n = fake.count('openai');
    fake.faults.openai = 'ok';
    await s.speakPart('filler line 5', 'backup', log);
    expect(fake.count('openai')).toBe(n);
  });

  it('hostile text: SSML-like tags never reach Azure (the rest is escaped text), shell syntax never runs, 100 kB is capped', async () => {
    fleet = ttsFleet(fake, 'azure');
    const s = service(fleet);
    services.push(s);
    const injection = `</prosody></voice><voice name="en-US-Evil">owned</voice><voice name="x"> & "quotes" 'too'`;
    const part = await s.speakPart(injection, 'idol', log);
    expect(part.voice).toBe('idol');
    // Engine markup is stripped at every engine's boundary; what is left is escaped into the SSML as text.
    expect(fake.requests[0]!.text).toBe(`owned & "quotes" 'too'`);
    expect(fake.requests[0]!.voice).toBe('en-US-JennyNeural');

    const marker = path.join(os.tmpdir(), `idolcast-pwned-${process.pid}`);
    const shell = await s.speakPart(`$(touch ${marker}); \`touch ${marker}\` | touch ${marker}`, 'backup', log);
    expect(shell.pcm.length).toBeGreaterThan(1000);
    expect(fs.existsSync(marker)).toBe(false);

    // 100 kB never becomes a job: the registry rejects it with the reason.
    const line = (text: string) => ({ utteranceId: 'huge-1', channel: 'main', text, voice: 'backup', priority: 2, acceptedAt: Date.now(), origin: { platform: 'test', user: 'x' } });
    await expect(fleet.queues.enqueue('tts', line('word '.repeat(20000)))).rejects.toThrow(/tts payload rejected: text: Too big/);
    // The longest acceptable text is cut to tts.maxTextLength before synthesis.
    const out = await ttsHandle(line('word '.repeat(999)), { ...fleet, log, metrics: createMetrics('worker-tts', 't'), speech: s, publish: async () => {}, attempt: 1, job: { id: 't', scheduledFor: Date.now() } });
    expect(out).toMatchObject({ parts: expect.any(Number) });
    const audio = await fleet.queues.queue('audio').getJobs(['waiting', 'prioritized']);
    const spoken = audio.length;
    expect(spoken).toBeGreaterThan(0);
    expect(spoken).toBeLessThanOrEqual(Math.ceil(fleet.config.tts.maxTextLength / fleet.config.tts.firstPartMaxChars) + 1);
  });

  it("a long line's first audio is handed over before its last sentence is synthesised", async () => {
    fleet = ttsFleet(fake, 'openai');
    const s = service(fleet);
    services.push(s);
    fake.delayMs = 250;
    const text = 'Welcome back everyone. Today we sing three songs together. Then we read your messages. After that a little game. Finally we say good night.';
    await ttsHandle({ utteranceId: 'long-1', channel: 'main', text, voice: 'idol', priority: 4, acceptedAt: Date.now(), origin: { platform: 'test', user: 'x' } }, { ...fleet, log, metrics: createMetrics('worker-tts', 't'), speech: s, publish: async () => {}, attempt: 1, job: { id: 't', scheduledFor: Date.now() } });
    const first = await fleet.queues.queue('audio').getJob('long-1-p0');
    const parts = fake.requests.filter((r) => r.provider === 'openai');
    expect(parts.length).toBeGreaterThan(1);
    expect(first!.timestamp).toBeLessThan(parts[parts.length - 1]!.at);
    expect(parts[0]!.text).toBe('Welcome back everyone.');
    expect(parts.map((p) => p.text).join(' ')).toBe(text);
  });
});
