import fs from 'node:fs';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { TestFleet, eventually, redisUrl } from '../helpers/fleet';

/**
 * A tts engine that holds each synthesis while a marker file exists, so a test can catch a
 * worker with a job in hand; otherwise it is the real espeak-ng.
 */
function holdingEspeak(dir: string): { binary: string; hold: string } {
  const hold = path.join(dir, 'hold');
  const binary = path.join(dir, 'espeak-holding.sh');
  fs.writeFileSync(binary, `#!/bin/sh\nwhile [ -f "${hold}" ]; do sleep 0.05; done\nexec espeak-ng "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(hold, '');
  return { binary, hold };
}

const say = (id: string) => ({ utteranceId: id, channel: 'main', text: 'Nothing accepted is ever lost.', voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } });

describe('worker processes (real Redis, real espeak-ng)', () => {
  let fleet: TestFleet;
  let events: QueueEvents;
  const completed: string[] = [];

  afterEach(async () => {
    await events?.close();
    await fleet?.close();
    completed.length = 0;
  });

  async function setUp() {
    fleet = new TestFleet();
    const engine = holdingEspeak(fleet.dir);
    fleet.configure({ tts: { espeak: { binary: engine.binary } } });
    events = new QueueEvents('tts', { connection: { url: redisUrl() }, prefix: fleet.prefix });
    events.on('completed', ({ jobId }) => completed.push(jobId));
    await events.waitUntilReady();
    return engine;
  }

  it('a job held by a worker killed with SIGKILL is completed by another replica, exactly once', async () => {
    const engine = await setUp();
    const a = fleet.start(['worker', 'tts', '--concurrency', '1']);
    await a.waitForLog('worker ready');
    await fleet.queues.enqueue('tts', say('kill-1'));
    const tts = fleet.queues.queue('tts');
    await eventually(async () => ((await tts.getJobCounts('active')).active === 1 ? true : undefined), 'the job to be active on worker A');

    const b = fleet.start(['worker', 'tts', '--concurrency', '1']);
    await b.waitForLog('worker ready');
    a.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    fs.rmSync(engine.hold);

    await eventually(async () => ((await tts.getJob('kill-1'))?.finishedOn ? true : undefined), 'the job to complete on worker B', 30000);
    const job = await tts.getJob('kill-1');
    expect(await job!.getState()).toBe('completed');
    expect(completed.filter((id) => id === 'kill-1')).toHaveLength(1);
    // Its speech went on exactly once to the next stage.
    expect(await fleet.queues.queue('audio').getJobCountByTypes('waiting', 'prioritized', 'active', 'completed')).toBe(1);
    expect(b.lines.some((l) => l.msg === 'job failed')).toBe(false);
  });

  it('SIGTERM mid-job lets the job finish before the worker exits', async () => {
    const engine = await setUp();
    const a = fleet.start(['worker', 'tts', '--concurrency', '1']);
    await a.waitForLog('worker ready');
    await fleet.queues.enqueue('tts', say('term-1'));
    const tts = fleet.queues.queue('tts');
    await eventually(async () => ((await tts.getJobCounts('active')).active === 1 ? true : undefined), 'the job to be active');

    a.kill('SIGTERM');
    await a.waitForLog('shutting down');
    // The worker is still holding the job; release the engine and the job must finish.
    fs.rmSync(engine.hold);
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(await (await tts.getJob('term-1'))!.getState()).toBe('completed');
    expect(completed).toEqual(['term-1']);
    // It left the fleet on the way out instead of waiting to expire.
    expect(await fleet.redis.zcard(fleet.keys.fleet)).toBe(0);
  });

  it('a payload that can never pass fails at once, without retries', async () => {
    await setUp();
    const a = fleet.start(['worker', 'tts', '--concurrency', '1']);
    await a.waitForLog('worker ready');
    // Written behind the registry's back, as an old or foreign producer might.
    const job = await fleet.queues.queue('tts').add('tts.synthesize', { utteranceId: 'bad', text: '' });
    await eventually(async () => ((await job.getState()) === 'failed' ? true : undefined), 'the job to fail');
    const failed = await fleet.queues.queue('tts').getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/tts payload rejected/);
  });
});
