import type { Job } from 'bullmq';
import type { Payload } from '../../queues/registry';
import { FakeObs } from '../../testkit/fake-obs';
import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';
import { sleep } from '../../src/time';

const PASSWORD = 'obs-secret-Zq81';

/** The scene worker process, connected to a loopback OBS. */
async function sceneWorker(fleet: TestFleet, fake: FakeObs, obs: Record<string, unknown> = {}, password = PASSWORD): Promise<RunningProcess> {
  fleet.configure({ obs: { enabled: true, url: fake.url, minSceneDwellMs: 0, reconnectBaseMs: 100, reconnectCapMs: 400, ...obs } });
  return fleet.start(['worker', 'scene'], { OBS_PASSWORD: password });
}

/** Wait for a job to complete and return its result. */
async function done(fleet: TestFleet, job: Job): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const j = await fleet.queues.queue('scene').getJob(job.id!);
    if (j?.failedReason) throw new Error(`scene job failed: ${j.failedReason}`);
    return j?.finishedOn ? (j.returnvalue as Record<string, unknown>) : undefined;
  }, `scene job ${job.id}`, 10000, 20);
}

const count = (p: RunningProcess, msg: string) => p.lines.filter((l) => l.msg === msg).length;

describe('scenes in OBS over obs-websocket v5 (a loopback OBS, the real scene worker process)', () => {
  let fleet: TestFleet;
  let fake: FakeObs;
  afterEach(async () => {
    await fleet?.close();
    await fake?.close();
  });

  const scene = (p: Omit<Payload<'scene'>, 'channel'>) => fleet.queues.enqueue('scene', { channel: 'main', ...p });

  it('scene jobs become the right requests, and running one twice changes nothing', async () => {
    fake = new FakeObs({ password: PASSWORD });
    await fake.ready;
    fleet = new TestFleet();
    const worker = await sceneWorker(fleet, fake);
    await worker.waitForLog('OBS state re-applied');
    const since = fake.requests.length;

    const job = { scene: 'Live', sources: { Chat: false }, texts: { Caption: 'Hi <b>chat</b>' }, media: ['Loop'], filters: [{ source: 'Avatar', filter: 'Glow', enabled: true }], streaming: true };
    const result = await done(fleet, await scene(job));
    expect(result).toMatchObject({ scene: 'Live', obs: 'applied', problems: [] });
    expect(fake.requests.slice(since).map((r) => [r.type, r.data])).toEqual([
      ['SetCurrentProgramScene', { sceneName: 'Live' }],
      ['GetSceneItemId', { sceneName: 'Live', sourceName: 'Chat' }],
      ['SetSceneItemEnabled', { sceneName: 'Live', sceneItemId: 2, sceneItemEnabled: false }],
      ['SetInputSettings', { inputName: 'Caption', inputSettings: { text: 'Hi <b>chat</b>' }, overlay: true }],
      ['SetSourceFilterEnabled', { sourceName: 'Avatar', filterName: 'Glow', filterEnabled: true }],
      ['GetStreamStatus', {}],
      ['StartStream', {}],
      ['TriggerMediaInputAction', { inputName: 'Loop', mediaAction: 'OBS_WEBSOCKET_MEDIA_INPUT_ACTION_RESTART' }],
    ]);
    expect(fake.programScene).toBe('Live');
    expect(fake.itemEnabled.get('Chat')).toBe(false);
    expect(fake.streaming).toBe(true);

    // The same desired state again: no scene switch, no second StartStream, the same picture.
    const again = fake.requests.length;
    await done(fleet, await scene({ scene: 'Live', sources: { Chat: false }, streaming: true }));
    const types = fake.requests.slice(again).map((r) => r.type);
    expect(types).not.toContain('SetCurrentProgramScene');
    expect(types).not.toContain('StartStream');
    expect(types).not.toContain('GetSceneItemId'); // the item id is remembered for the connection
    expect(fake.itemEnabled.get('Chat')).toBe(false);

    // An unknown scene is reported in the result, not retried forever.
    const bad = await done(fleet, await scene({ scene: 'Nowhere' }));
    expect(bad).toMatchObject({ obs: 'applied' });
    expect(String((bad.problems as string[])[0])).toMatch(/SetCurrentProgramScene/);

    // State is kept in Redis in its documented shape; the password is in no log line.
    expect(await fleet.redis.hget(fleet.keys.scene('main'), 'source.Chat')).toBe('0');
    expect(JSON.stringify(worker.lines) + worker.stderr.join('\n')).not.toContain(PASSWORD);
  });

  it('after a dropped socket, and after OBS restarts, the desired state is re-applied', async () => {
    const port = await freeLoopbackPort();
    fake = new FakeObs({ port, password: PASSWORD });
    await fake.ready;
    fleet = new TestFleet();
    const worker = await sceneWorker(fleet, fake);
    await worker.waitForLog('OBS state re-applied');
    await done(fleet, await scene({ scene: 'Live', sources: { Chat: false, Avatar: true }, texts: { Title: 'Morning show' } }));

    // OBS drops the socket and comes back showing something else (as after a crash).
    fake.dropAll();
    fake.programScene = 'Starting';
    fake.itemEnabled.set('Chat', true);
    fake.inputs.set('Title', { text: '' });
    await eventually(async () => (count(worker, 'OBS state re-applied') >= 2 ? true : undefined), 'a second re-apply', 10000);
    expect(worker.lines.some((l) => l.msg === 'OBS connection lost: reconnecting')).toBe(true);
    expect(fake.programScene).toBe('Live');
    expect(fake.itemEnabled.get('Chat')).toBe(false);
    expect(fake.inputs.get('Title')).toEqual({ text: 'Morning show' });

    // OBS is gone entirely; a job meanwhile is kept, and applied when OBS is back on its port.
    await fake.close();
    const offline = await done(fleet, await scene({ scene: 'BRB', sources: { Loop: true } }));
    expect(offline).toMatchObject({ scene: 'BRB', obs: 'offline' });
    fake = new FakeObs({ port, password: PASSWORD });
    await fake.ready;
    await fake.waitFor((r) => r.type === 'SetCurrentProgramScene' && r.data.sceneName === 'BRB', 10000);
    await eventually(async () => (fake.itemEnabled.get('Loop') === true && count(worker, 'OBS state re-applied') >= 3 ? true : undefined), 'the state on the restarted OBS', 5000);
    expect(fake.programScene).toBe('BRB');
    expect(fake.inputs.get('Title')).toEqual({ text: 'Morning show' });
  });

  it('a wrong password gives one clear error and a slow retry, not a retry storm', async () => {
    fake = new FakeObs({ password: 'the-right-one' });
    await fake.ready;
    fleet = new TestFleet();
    const worker = await sceneWorker(fleet, fake, { authRetryMs: 60000, reconnectBaseMs: 50 }, 'a-wrong-password');
    const error = await worker.waitForLog('OBS rejected the password: check OBS_PASSWORD (obs.password) against OBS → Tools → WebSocket Server Settings');
    expect(error.level).toBe(50);
    await sleep(3000);
    expect(fake.connections).toBe(1);
    expect(fake.authFailures).toBe(1);
    expect(worker.lines.filter((l) => typeof l.level === 'number' && l.level >= 50)).toHaveLength(1);
    expect(JSON.stringify(worker.lines)).not.toContain('a-wrong-password');

    // The failure is counted in the metrics the worker publishes with its heartbeat.
    const metric = await eventually(async () => {
      const keys = await fleet.redis.keys(fleet.keys.metrics('*'));
      for (const k of keys) {
        const all = JSON.parse((await fleet.redis.get(k)) ?? '[]') as { name: string; values: { labels: Record<string, string>; value: number }[] }[];
        const m = all.find((x) => x.name === 'idolcast_obs_connect_attempts_total');
        const v = m?.values.find((x) => x.labels.outcome === 'auth_failed');
        if (v) return v.value;
      }
      return undefined;
    }, 'the auth_failed metric', 5000);
    expect(metric).toBe(1);

    // Jobs still succeed (the state waits in Redis for a working connection).
    expect(await done(fleet, await scene({ scene: 'Live' }))).toMatchObject({ obs: 'offline' });
  });

  it('scene changes keep the minimum dwell time: too early waits, the latest wins', async () => {
    fake = new FakeObs({ password: PASSWORD });
    await fake.ready;
    fleet = new TestFleet();
    const worker = await sceneWorker(fleet, fake, { minSceneDwellMs: 1500 });
    await worker.waitForLog('OBS state re-applied');
    const since = fake.requests.length;
    await done(fleet, await scene({ scene: 'Live' }));
    const first = fake.of('SetCurrentProgramScene', since)[0]!;
    const early = await done(fleet, await scene({ scene: 'BRB' }));
    expect(early.sceneDeferredMs).toBeGreaterThan(1000);
    await done(fleet, await scene({ scene: 'Starting' }));
    const second = await fake.waitFor((r) => r.type === 'SetCurrentProgramScene' && r.at > first.at, 5000, since);
    expect(second.data.sceneName).toBe('Starting');
    expect(second.at - first.at).toBeGreaterThanOrEqual(1500);
    expect(second.at - first.at).toBeLessThan(2500);
    await sleep(1800);
    expect(fake.of('SetCurrentProgramScene', since).map((r) => r.data.sceneName)).toEqual(['Live', 'Starting']);
    expect(fake.programScene).toBe('Starting');
  });
});
