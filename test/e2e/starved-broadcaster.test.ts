import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { descendantsOf } from '../../testkit/procfs';
import { channelEventSchema, type ChannelEvent } from '../../queues/live-events';
import { sleep } from '../../src/time';
import { duplicate } from '../../src/redis';

/** The broadcaster process of a fleet, found in /proc as the node process running `broadcast`. */
function broadcasterPid(): number {
  const p = descendantsOf(process.pid).find((d) => d.args.startsWith(process.execPath) && d.args.includes(' broadcast'));
  if (!p) throw new Error('no broadcaster process');
  return p.pid;
}

/**
 * A broadcaster starved past its lock period with nobody else there (SIGSTOP, then SIGCONT):
 * it keeps the channel (an expired lock nobody took is taken again), and the line that was on
 * air while it was stopped is aired again (or counted lost), never counted aired twice.
 */
describe('a starved broadcaster with no standby (SIGSTOP past the lock period, SIGCONT)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('keeps or re-takes the channel, airs the interrupted line again, and airs every line once', async () => {
    fleet = new TestFleet();
    const events: ChannelEvent[] = [];
    const sub = duplicate(fleet.redis);
    sub.on('message', (_c: string, m: string) => {
      const e = channelEventSchema.safeParse(JSON.parse(m));
      if (e.success) events.push(e.data);
    });
    await sub.subscribe(fleet.keys.events('main'));
    const workers = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio'])];
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const broadcaster: RunningProcess = fleet.start(['broadcast']);
    const active = await broadcaster.waitForLog('broadcaster active', {}, 30000);
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    const lines = [
      { id: 'long', text: 'This line is long enough to be on the air while the broadcaster is stopped, and it goes on for a good while longer still, so that the stop lands in its middle.' },
      { id: 'next', text: 'And this is the line after it.' },
    ];
    for (const l of lines) await fleet.queues.enqueue('tts', { utteranceId: l.id, channel: 'main', text: l.text, voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } });
    await eventually(async () => (events.some((e) => e.type === 'onair-start' && e.utteranceId === 'long') ? true : undefined), 'the long line on air', 30000);

    // Stopped for three lock periods: the lease lapses in Redis with nobody there to take it.
    const pid = broadcasterPid();
    expect(pid).toBe(broadcaster.child.pid);
    process.kill(pid, 'SIGSTOP');
    await sleep(3 * fleet.config.playout.leaderLockMs);
    process.kill(pid, 'SIGCONT');

    const lapse = await broadcaster.waitForLog('broadcast lease lapsed: output dropped meanwhile', {}, 15000);
    expect(lapse.why).toBe('expired, nobody else held it: taken again');
    expect(lapse.fence as number).toBeGreaterThan(active.fence as number);
    // Every line ends aired exactly once (the interrupted airing not counted) or dropped with a reason.
    const complete = (id: string) => events.filter((e) => e.type === 'onair-end' && e.utteranceId === id && !e.interrupted).length;
    const dropped = (id: string) => broadcaster.lines.some((l) => l.utteranceId === id && l.msg === 'line dropped: interrupted on air, no attempts left');
    await eventually(async () => (lines.every((l) => complete(l.id) + (dropped(l.id) ? 1 : 0) > 0) ? true : undefined), 'every line aired or dropped', 60000, 100);
    const interrupted = events.filter((e) => e.type === 'onair-end' && e.interrupted).map((e) => e.utteranceId);
    expect(interrupted).toContain('long');
    await broadcaster.waitForLog('line interrupted on air: to be aired again', { utteranceId: 'long' });
    for (const l of lines) expect({ id: l.id, aired: complete(l.id) }).toEqual({ id: l.id, aired: 1 });
    // Still the channel's broadcaster: it never lost the lock and never exited.
    expect(broadcaster.lines.filter((l) => l.msg === 'lost the broadcast lock: stopping')).toEqual([]);
    expect(broadcaster.child.exitCode).toBeNull();
    expect(await fleet.redis.get(fleet.keys.broadcastLeader('main'))).toMatch(new RegExp(` ${lapse.fence as number}$`));
    await sub.quit();
  }, 120_000);
});
