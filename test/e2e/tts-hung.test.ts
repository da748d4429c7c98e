import { LOCAL_ENGINE } from '../../src/config/schema';
import { TestFleet, eventually } from '../helpers/fleet';
import { FAKE_KEY, FakeTts } from '../../testkit/fake-tts';

const LINES = 8;

describe('a hung TTS provider (worker process at concurrency 2, loopback provider)', () => {
  let fake: FakeTts;
  let fleet: TestFleet;
  afterEach(async () => {
    await fleet?.close();
    await fake?.close();
  });

  it.each(['hang', 'trickle'] as const)('a provider that %ss never holds the worker: every line is voiced by the fallback, the hung sockets are closed', async (fault) => {
    fake = new FakeTts();
    await fake.ready;
    fake.faults.openai = fault;
    // The whole-answer timeout is a minute and the breaker never opens: only the first-audio
    // deadline frees the two slots. Without it these lines would wait minutes.
    fleet = new TestFleet({
      voices: { idol: { engine: 'cloud', voice: 'nova', fallback: ['backup'] }, backup: { engine: LOCAL_ENGINE, voice: 'en-us+f3' } },
      defaultVoice: 'idol',
      tts: {
        firstAudioDeadlineMs: 1500,
        engines: { cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY } },
        breaker: { timeoutMs: 60_000, volumeThreshold: 1000 },
        retry: { attempts: 3, baseMs: 100, capMs: 1000 },
      },
    });
    const worker = fleet.start(['worker', 'tts', '--concurrency', '2']);
    await worker.waitForLog('worker ready');
    const tts = fleet.queues.queue('tts');
    const ids = Array.from({ length: LINES }, (_, i) => `hung-${i}`);
    for (const [i, id] of ids.entries()) {
      await fleet.queues.enqueue('tts', { utteranceId: id, channel: 'main', text: `line ${i} while the provider ${fault}s`, voice: 'idol', priority: 2, acceptedAt: Date.now(), origin: { platform: 'local', user: 'chat' } });
    }
    await eventually(async () => (((await tts.getJobCounts('completed')).completed ?? 0) >= LINES ? true : undefined), 'every line voiced', 50_000, 100);
    const jobs = await Promise.all(ids.map((id) => tts.getJob(id)));
    expect(jobs.map((j) => (j!.returnvalue as { voices: string[] }).voices)).toEqual(ids.map(() => ['backup']));
    expect((await tts.getJobCounts('failed')).failed).toBe(0);
    // Each line asked the provider once (a missed deadline is not retried) and let go of it.
    expect(fake.count('openai')).toBe(LINES);
    await eventually(async () => (fake.stalled.size === 0 ? true : undefined), 'the hung requests to be closed');
    if (process.env.TTS_HUNG_FIGURES) process.stdout.write(`${fault} per-line ms: ${jobs.map((j) => j!.finishedOn! - j!.processedOn!).join(' ')}\n`);
  }, 60_000);
});
