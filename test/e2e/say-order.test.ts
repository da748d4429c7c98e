import { FAKE_KEY, FakeTts } from '../../testkit/fake-tts';
import { TestFleet, eventually } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { duplicate } from '../../src/redis';

/** Collect the channel's on-air events (end of each line) until told to stop. */
async function onAirEnds(fleet: TestFleet) {
  const sub = duplicate(fleet.redis);
  const aired: string[] = [];
  sub.on('message', (_c: string, m: string) => {
    const e = JSON.parse(m) as { type: string; utteranceId: string };
    if (e.type === 'onair-end') aired.push(e.utteranceId);
  });
  await sub.subscribe(fleet.keys.events('main'));
  return { aired, stop: () => sub.quit() };
}

describe('chat !say lines (real tts, audio and broadcast processes)', () => {
  let fleet: TestFleet;
  let fake: FakeTts | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    await fleet?.close();
  });

  it('air in the order they were accepted, though voiced in parallel and finished out of order', async () => {
    // A cloud voice whose answers come back in reverse: each request waits less than the one before.
    fake = new FakeTts();
    await fake.ready;
    let nextDelay = 1200;
    Object.defineProperty(fake, 'delayMs', { get: () => (nextDelay = Math.max(0, nextDelay - 200)) });
    fleet = new TestFleet({
      voices: { idol: { engine: 'cloud', voice: 'alloy', fallback: ['backup'] }, backup: { engine: 'espeak-ng', voice: 'en-us' } },
      defaultVoice: 'idol',
      tts: { engines: { cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY } }, cache: { enabled: false } },
      // A long time-to-live: this test is about order, and a loaded machine may be slow.
      chat: { load: { plainTtlMs: 600_000 } },
    });
    const workers = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio'])];
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const { pipeline } = testPipeline(fleet);
    const events = [0, 1, 2, 3, 4, 5].map((i) => chatEvent(`!say line number ${i}`, { user: { login: `viewer${i}` } }));
    const outcomes = await Promise.all(events.map((e) => pipeline.accept(e)));
    expect(outcomes.map((o) => o.decision)).toEqual(events.map(() => 'command'));
    const playout = fleet.queues.queue('playout', 'main');
    await eventually(async () => ((await playout.getJobCounts('prioritized')).prioritized === events.length ? true : undefined), 'every line voiced and waiting for air', 60_000, 100);

    const air = await onAirEnds(fleet);
    try {
      fleet.start(['broadcast']);
      await eventually(async () => (air.aired.length === events.length ? true : undefined), 'every line aired', 60_000, 100);
      expect(air.aired).toEqual(events.map((e) => `twitch-${e.id}-say`));
    } finally {
      await air.stop();
    }
  });

  it('carry plain chat\'s time-to-live: lines past it are dropped as stale, not aired late', async () => {
    fleet = new TestFleet({ chat: { load: { plainTtlMs: 1 } } });
    const { pipeline } = testPipeline(fleet);
    const events = [0, 1, 2].map((i) => chatEvent(`!say a line that waited too long ${i}`, { user: { login: `late${i}` } }));
    expect((await Promise.all(events.map((e) => pipeline.accept(e)))).map((o) => o.decision)).toEqual(['command', 'command', 'command']);
    const tts = fleet.start(['worker', 'tts']);
    for (const e of events) await tts.waitForLog('line dropped before synthesis', { utteranceId: `twitch-${e.id}-say`, reason: 'stale' });
    expect(await fleet.queues.queue('audio').count()).toBe(0);
  });
});
