import { TestFleet, eventually } from '../helpers/fleet';
import { duplicate } from '../../src/redis';

describe('playout order', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('waiting lines go on air highest priority first, each once, back to back', async () => {
    fleet = new TestFleet();
    const workers = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio'])];
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const lines = [
      { id: 'low', priority: 2, text: 'a plain chat line' },
      { id: 'paid', priority: 9, text: 'thank you for the gift' },
      { id: 'operator', priority: 5, text: 'the operator speaks' },
    ];
    for (const l of lines) {
      await fleet.queues.enqueue('tts', { utteranceId: l.id, channel: 'main', text: l.text, voice: 'default', priority: l.priority, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } });
    }
    const playout = fleet.queues.queue('playout', 'main');
    await eventually(async () => ((await playout.getJobCounts('prioritized')).prioritized === 3 ? true : undefined), 'all three lines ready for air');

    const sub = duplicate(fleet.redis);
    const aired: { utteranceId: string; startAt: number; endAt: number }[] = [];
    sub.on('message', (_c: string, m: string) => {
      const e = JSON.parse(m) as { type: string; utteranceId: string; startAt: number; endAt: number };
      if (e.type === 'onair-end') aired.push(e);
    });
    await sub.subscribe(fleet.keys.events('main'));
    try {
      fleet.start(['broadcast']);
      await eventually(async () => (aired.length === 3 ? true : undefined), 'three lines aired', 30000, 100);
      expect(aired.map((a) => a.utteranceId)).toEqual(['paid', 'operator', 'low']);
      // Back to back: each starts within a tick or two of the previous line's end.
      for (let i = 1; i < aired.length; i++) expect(aired[i]!.startAt - aired[i - 1]!.endAt).toBeLessThan(250);
    } finally {
      await sub.quit();
    }
  });
});
