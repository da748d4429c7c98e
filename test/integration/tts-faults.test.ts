import { handle as audioHandle } from '../../workers/audio.worker';
import { handle as ttsHandle } from '../../workers/tts.worker';
import { createMetrics } from '../../src/metrics';
import { checkSpeech } from '../../src/tts/audio-check';
import { SpeechCache } from '../../src/tts/speech-cache';
import type { SpeechService } from '../../src/tts/speech-service';
import { TestFleet, eventually } from '../helpers/fleet';
import { FakeTts, tone, type BadAudioFault } from '../../testkit/fake-tts';
import { quietLog as log, speechService, ttsFleet } from '../helpers/tts-fleet';
import { SpeechStore } from '../../src/speech-store';

type Metrics = ReturnType<typeof createMetrics>;

async function counted(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = metric ? (await metric.get()).values : [];
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((n, v) => n + v.value, 0);
}

describe('TTS provider faults: broken audio, hung and trickling providers, over-long lines (loopback provider)', () => {
  let fake: FakeTts;
  let fleet: TestFleet;
  let s: SpeechService | undefined;
  beforeEach(async () => {
    fake = new FakeTts();
    await fake.ready;
  });
  afterEach(async () => {
    s?.shutdown();
    await fake.close();
    await fleet?.close();
  });

  it.each(['junk-wav', 'silent-wav', 'truncated', 'html'] as BadAudioFault[])('a 200 answer of %s is refused: the fallback voice speaks, the cloud is not credited, nothing is cached; healthy again, real audio', async (fault) => {
    fleet = ttsFleet(fake, 'openai');
    const metrics = createMetrics('worker-tts', 'test');
    s = speechService(fleet, metrics);
    const text = 'Thank you so much for the follow!';
    fake.faults.openai = fault;

    const part = await s.speakPart(text, 'idol', log);
    expect(part).toMatchObject({ voice: 'backup', cached: false });
    expect(await counted(metrics, 'idolcast_tts_spoken_total', { engine: 'cloud' })).toBe(0);
    expect(await counted(metrics, 'idolcast_tts_rejected_audio_total', { engine: 'cloud' })).toBe(1);
    // The failure counts toward the breaker, and was not retried.
    expect(s.breaker('cloud').stats.failures).toBe(1);
    expect(fake.count('openai')).toBe(1);
    const cloudEntry = fleet.keys.ttsCache(SpeechCache.hash('cloud', fleet.config.voices.idol!, text));
    expect(await fleet.redis.exists(cloudEntry)).toBe(0);

    fake.faults.openai = 'ok';
    const healthy = await s.speakPart(text, 'idol', log);
    expect(healthy).toMatchObject({ voice: 'idol', engine: 'cloud', cached: false });
    expect(() => checkSpeech('cloud', healthy.pcm, healthy.format, text)).not.toThrow();
    expect(await counted(metrics, 'idolcast_tts_spoken_total', { engine: 'cloud' })).toBe(1);
    expect(await fleet.redis.exists(cloudEntry)).toBe(1);
  });

  it('good audio wrapped in a WAV is taken by its header: the samples alone, not the header or a trailing chunk', async () => {
    fleet = ttsFleet(fake, 'openai');
    s = speechService(fleet);
    fake.faults.openai = 'wav';
    const text = 'A line in a WAV container';
    const part = await s.speakPart(text, 'idol', log);
    expect(part).toMatchObject({ voice: 'idol', format: { sampleRate: 24000, channels: 1 } });
    expect(part.pcm.equals(tone(text.length * fake.msPerChar))).toBe(true);
  });

  it('a cached entry that is not speech (from before the checks) is removed, not aired', async () => {
    fleet = ttsFleet(fake, 'openai');
    s = speechService(fleet);
    const text = 'Good night everyone';
    const hash = SpeechCache.hash('cloud', fleet.config.voices.idol!, text);
    await s.cache.put(hash, Buffer.alloc(24), { sampleRate: 24000, channels: 1 });
    const part = await s.speakPart(text, 'idol', log);
    expect(part).toMatchObject({ voice: 'idol', cached: false });
    expect(part.pcm.length).toBeGreaterThan(24000);
    expect(fake.count('openai')).toBe(1);
  });

  it.each(['hang', 'trickle'] as const)('a provider that %ss: every line falls back at the first-audio deadline, without retries, and its sockets are closed', async (fault) => {
    // The whole-answer timeout is far away: only the first-audio deadline can end these requests.
    fleet = ttsFleet(fake, 'openai', { firstAudioDeadlineMs: 400, breaker: { timeoutMs: 60000, volumeThreshold: 100 }, retry: { attempts: 3, baseMs: 50, capMs: 200 } });
    const metrics = createMetrics('worker-tts', 'test');
    s = speechService(fleet, metrics);
    fake.faults.openai = fault;
    const lines = Array.from({ length: 4 }, (_, i) => `hung provider line ${i}`);
    const voiced = [];
    for (const line of lines) voiced.push(await s.speakPart(line, 'idol', log));
    expect(voiced.map((v) => v.voice)).toEqual(lines.map(() => 'backup'));
    expect(fake.count('openai')).toBe(lines.length);
    expect(await counted(metrics, 'idolcast_tts_rejected_audio_total', { engine: 'cloud', reason: 'deadline' })).toBe(lines.length);
    expect(s.breaker('cloud').stats.failures).toBe(lines.length);
    await eventually(async () => (fake.stalled.size === 0 ? true : undefined), 'the hung requests to be closed by the client');
  });

  it('a 285-character zalgo operator line airs for at most tts.maxLineSeconds, and no combining mark reaches the engine', async () => {
    fleet = ttsFleet(fake, 'openai', { maxLineSeconds: 3, breaker: { timeoutMs: 8000 } });
    s = speechService(fleet);
    fake.msPerChar = 200; // a slow voice: the text estimate alone would not keep the line short
    const base = 'Attention please. The stream restarts in ten minutes, so grab a drink and stretch. See you soon, everyone, and thank you for watching!';
    const zalgo = [...base].map((c, i) => (c === ' ' ? c : `${c}${String.fromCodePoint(0x300 + (i % 0x60))}\u0489`)).join('').slice(0, 285);
    expect(zalgo.length).toBe(285);
    const line = { utteranceId: 'zalgo-1', channel: 'main', text: zalgo, voice: 'idol', priority: 8, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'operator' } };
    const deps = { ...fleet, log, metrics: createMetrics('worker-tts', 't'), speech: s, publish: async () => {}, attempt: 1, job: { id: 't', scheduledFor: Date.now() } };
    const out = (await ttsHandle(line, deps)) as { parts: number; voices: string[] };
    expect(out.voices[0]).toBe('idol');
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) expect(r.text).not.toMatch(/\p{M}/u);
    // A first mark NFC can compose with its letter stays as that accented letter (À); the rest go.
    const spoken = fake.requests.map((r) => r.text).join(' ');
    // Cut before synthesis at the sentence end that fits 3 s (by the estimate of 15 characters a second).
    expect(spoken.normalize('NFD').replace(/\p{M}/gu, '')).toBe('Attention please.');

    const audio = await fleet.queues.queue('audio').getJobs(['waiting', 'prioritized']);
    expect(audio).toHaveLength(out.parts);
    let bytes = 0;
    for (const job of audio) {
      await audioHandle(job.data, deps);
      bytes += await new SpeechStore(fleet.redis, fleet.keys, fleet.config).playoutBytes('zalgo-1', job.data.part);
    }
    // The slow voice spoke that sentence for 3.4 s: the audio itself was cut at the limit.
    const seconds = bytes / 2 / fleet.config.playout.sampleRate;
    expect(seconds).toBeGreaterThan(1);
    expect(seconds).toBeLessThanOrEqual(3);
  });
});
