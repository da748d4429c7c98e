import { LOCAL_ENGINE } from '../../src/config/schema';
import { TestFleet, eventually } from '../helpers/fleet';
import { FAKE_KEY, FakeTts } from '../../testkit/fake-tts';
import { sleep } from '../../src/time';

const OUTAGE_MS = 60_000;
const RATE_PER_S = 2;

describe('a 60-second outage of the main TTS provider (worker processes, loopback provider)', () => {
  let fake: FakeTts;
  let fleet: TestFleet;
  afterEach(async () => {
    await fleet?.close();
    await fake?.close();
  });

  it('every line is spoken by a fallback voice while chat keeps coming; none lost or failed; the provider is used again after', async () => {
    fake = new FakeTts();
    await fake.ready;
    fleet = new TestFleet({
      voices: { idol: { engine: 'cloud', voice: 'nova', fallback: ['backup'] }, backup: { engine: LOCAL_ENGINE, voice: 'en-us+f3' } },
      defaultVoice: 'idol',
      tts: { engines: { cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY } }, breaker: { timeoutMs: 1000, volumeThreshold: 3, resetTimeoutMs: 5000 }, retry: { attempts: 2, baseMs: 100, capMs: 1000 } },
    });
    const workers = [fleet.start(['worker', 'tts', '--concurrency', '4']), fleet.start(['worker', 'audio'])];
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const tts = fleet.queues.queue('tts');
    const say = (id: string, text: string) => fleet.queues.enqueue('tts', { utteranceId: id, channel: 'main', text, voice: 'idol', priority: 2, acceptedAt: Date.now(), origin: { platform: 'local', user: 'chat' } });

    fake.faults.openai = '500';
    const outageIds: string[] = [];
    const start = Date.now();
    for (let i = 0; Date.now() - start < OUTAGE_MS; i++) {
      const due = start + (i * 1000) / RATE_PER_S;
      if (due > Date.now()) await sleep(due - Date.now());
      const id = `outage-${i}`;
      outageIds.push(id);
      await say(id, `chat message number ${i} while the cloud voice is down`);
    }
    await eventually(async () => (((await tts.getJobCounts('completed')).completed ?? 0) >= outageIds.length ? true : undefined), 'every outage line to be voiced', 30000, 200);
    expect((await tts.getJobCounts('failed')).failed).toBe(0);
    const jobs = await Promise.all(outageIds.map((id) => tts.getJob(id)));
    expect(jobs.every((j) => Boolean(j?.finishedOn) && !j?.failedReason)).toBe(true);
    const voices = jobs.flatMap((j) => (j!.returnvalue as { voices: string[] }).voices);
    expect(new Set(voices)).toEqual(new Set(['backup']));
    expect(await fleet.queues.queue('audio').getJobCountByTypes('completed', 'waiting', 'active', 'prioritized')).toBe(outageIds.length);
    // The breaker kept the dead provider from being hammered: a handful of probes, not one call per line.
    expect(fake.count('openai')).toBeLessThan(outageIds.length / 3);

    fake.faults.openai = 'ok';
    await sleep(5200);
    await say('after-1', 'the cloud voice is back');
    await eventually(async () => ((await tts.getJob('after-1'))?.finishedOn ? true : undefined), 'the line after the outage');
    expect(((await tts.getJob('after-1'))!.returnvalue as { voices: string[] }).voices).toEqual(['idol']);
  }, 150_000);
});
