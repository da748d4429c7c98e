import { TestFleet, eventually } from '../helpers/fleet';
import { SpeechStore } from '../../src/speech-store';
import { duplicate } from '../../src/redis';

/**
 * Anyone who can reach Redis can publish on the broadcaster's control channel: a message that is
 * not JSON, or JSON of the wrong shape, is logged and ignored; the broadcaster stays on air and
 * still obeys a good one after it.
 */
describe('malformed control messages on pub/sub', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('are logged and ignored; the broadcaster stays up and still skips a line when told', async () => {
    fleet = new TestFleet();
    const workers = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio'])];
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const broadcaster = fleet.start(['broadcast'], { IDOLCAST_FAULT_INJECTION: '1' });
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    const control = fleet.keys.control('main');

    const bad = ['not-json', '{"action":', 'null', '42', '"skip"', '[]', '{}', '{"action":"explode"}', '{"action":"skip","by":{"$gt":""}}', '{"action":"inject","fault":"rm -rf /"}', '{"action":"inject"}', '{"__proto__":{"action":"skip"}}'];
    for (const m of bad) await fleet.redis.publish(control, m);
    await eventually(async () => (broadcaster.lines.filter((l) => String(l.msg).startsWith('ignored a pub/sub message')).length === bad.length ? true : undefined), 'every bad message logged', 10000);
    expect(broadcaster.lines.filter((l) => l.msg === 'ignored a pub/sub message: not JSON')).toHaveLength(2);
    expect(broadcaster.lines.filter((l) => l.msg === 'line skipped' || l.msg === 'fault injected: background bed off')).toEqual([]);
    expect(broadcaster.child.exitCode).toBeNull();

    // A good message after them is obeyed: the line on air is cut short of its audio's length.
    const sub = duplicate(fleet.redis);
    const events: { type: string; utteranceId: string; startAt: number; endAt: number }[] = [];
    sub.on('message', (_c: string, m: string) => events.push(JSON.parse(m) as (typeof events)[number]));
    await sub.subscribe(fleet.keys.events('main'));
    const text = 'This is a long line that the operator skips long before its end, because it goes on and on and on for quite a while, and then some more.';
    await fleet.queues.enqueue('tts', { utteranceId: 'long', channel: 'main', text, voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } });
    // Being played (viewers hear it a stream offset later): its playout job is active.
    const playout = fleet.queues.queue('playout', 'main');
    await eventually(async () => ((await (await playout.getJob('long'))?.getState()) === 'active' ? true : undefined), 'the line playing', 30000);
    // Its whole audio (every part the broadcaster holds until the line is over).
    let bytes = 0;
    for (let i = 0; ; i++) {
      const part = await new SpeechStore(fleet.redis, fleet.keys, fleet.config).playoutBytes('long', i);
      if (!part) break;
      bytes += part;
    }
    await fleet.redis.publish(control, JSON.stringify({ action: 'skip', by: 'mod' }));
    await broadcaster.waitForLog('line skipped', { by: 'mod' });
    const end = await eventually(async () => events.find((e) => e.type === 'onair-end' && e.utteranceId === 'long'), 'the skipped line ended', 30000);
    expect(end.endAt - end.startAt).toBeLessThan((bytes / 2 / fleet.config.playout.sampleRate) * 1000);
    expect(broadcaster.child.exitCode).toBeNull();
    await sub.quit();
  }, 120_000);
});
