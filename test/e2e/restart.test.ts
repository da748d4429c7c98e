import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { utteranceIdFor } from '../../src/chat/ingest-pipeline';
import { listSchedules } from '../../src/schedule/schedules';
import { startRedisServer, type LocalRedis } from '../../src/supervisor/redis-server';
import { FakeObs } from '../../testkit/fake-obs';
import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { chatEvent } from '../helpers/pipeline';
import { freeLoopbackPort } from '../../src/ports';
import { duplicate } from '../../src/redis';

interface OnAir {
  type: string;
  utteranceId: string;
  voice: string;
  at: number;
}

const mod = { login: 'mod', roles: ['moderator' as const] };

/**
 * The whole fleet killed at once (SIGKILL, no goodbyes) and Redis with it, then Redis restarted
 * from its AOF and every process started again: what the stream was doing must come back from
 * Redis alone, and nothing already on air may air again.
 */
describe('a full fleet restart: every process SIGKILLed, Redis restarted from its AOF', () => {
  let fleet: TestFleet | undefined;
  let redis: LocalRedis | undefined;
  let obs: FakeObs | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-restart-redis-'));
  afterAll(async () => {
    await fleet?.close().catch(() => {});
    await obs?.close();
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('comes back with the same scene, voice and programme, and does not speak the last line again', async () => {
    const port = await freeLoopbackPort();
    redis = await startRedisServer({ port, dir, appendonly: true });
    const obsPort = await freeLoopbackPort();
    obs = new FakeObs({ port: obsPort });
    await obs.ready;
    fleet = new TestFleet(
      {
        obs: { enabled: true, url: obs.url, minSceneDwellMs: 0, reconnectBaseMs: 100, reconnectCapMs: 400 },
        schedule: {
          routines: {
            morning: { cron: '0 8 * * *', action: { say: 'Good morning, everyone!' } },
            breaks: { cron: '30 3 * * 1', action: { scene: 'BRB' } },
          },
        },
      },
      { redisUrl: redis.url },
    );
    // Every write on disk before it is acknowledged: the test kills Redis with no fsync window.
    await fleet.redis.config('SET', 'appendfsync', 'always');

    const aired: OnAir[] = [];
    const sub = duplicate(fleet.redis); // resubscribes by itself after the Redis restart
    sub.on('error', () => {});
    sub.on('message', (_c: string, m: string) => {
      const e = JSON.parse(m) as OnAir;
      if (e.type === 'onair-start' || e.type === 'onair-end') aired.push({ type: e.type, utteranceId: e.utteranceId, voice: e.voice, at: Date.now() });
    });
    await sub.subscribe(fleet.keys.events('main'));

    const startAll = async (): Promise<RunningProcess[]> => {
      const f = fleet!;
      const procs = [f.start(['ingest']), f.start(['worker', 'tts']), f.start(['worker', 'audio']), f.start(['worker', 'scene']), f.start(['worker', 'routine']), f.start(['broadcast'])];
      await Promise.all([procs[0]!.waitForLog('ingest ready'), ...procs.slice(1, 5).map((p) => p.waitForLog('worker ready')), procs[5]!.waitForLog('broadcaster ready', {}, 30000)]);
      return procs;
    };
    const chat = (text: string, over: Parameters<typeof chatEvent>[1] = {}) => {
      const e = chatEvent(text, over);
      return fleet!.queues.enqueue('chat', e).then(() => utteranceIdFor(e));
    };
    const airedEnd = (id: string) => eventually(async () => aired.find((a) => a.type === 'onair-end' && a.utteranceId === id), `${id} on air`, 30000, 50);

    try {
      const started = Date.now();
      let procs = await startAll();
      // Scene and voice through the chat path (a moderator), then a source of that scene hidden by a scene job.
      await chat('!scene BRB', { user: mod });
      await chat('!voice whisper', { user: mod });
      await eventually(async () => (obs!.programScene === 'BRB' && (await fleet!.redis.get(fleet!.keys.channelVoice('main'))) === 'whisper' ? true : undefined), 'scene and voice set', 15000);
      await fleet.queues.enqueue('scene', { channel: 'main', sources: { Loop: false } });
      await eventually(async () => (obs!.itemEnabled.get('Loop') === false ? true : undefined), 'the source hidden', 10000);
      const lastLine = await chat('this is the last line before the crash', { user: { login: 'fan' } });
      const before = await airedEnd(lastLine);
      expect(before.voice).toBe('whisper');
      const schedulesBefore = (await listSchedules(fleet.queues)).map((s) => ({ id: s.id, next: s.next }));
      expect(schedulesBefore.map((s) => s.id).sort()).toEqual(['routine-breaks', 'routine-morning']);

      // Kill everything at once: the fleet, then Redis, then OBS (a fresh one knows nothing).
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      const redisExit = new Promise((r) => redis!.child!.once('exit', r));
      redis.child!.kill('SIGKILL');
      await redisExit;
      await obs.close();
      const killedAt = Date.now();

      redis = await startRedisServer({ port, dir, appendonly: true });
      obs = new FakeObs({ port: obsPort });
      await obs.ready;
      await eventually(async () => ((await fleet!.redis.ping().catch(() => '')) === 'PONG' ? true : undefined), 'the client back on the restarted Redis', 10000, 100);

      // Before any process is back, the state is in Redis: loaded from the AOF alone.
      const scene = await fleet.redis.hgetall(fleet.keys.scene('main'));
      expect(scene).toMatchObject({ scene: 'BRB', 'source.Loop': '0' });
      expect(await fleet.redis.get(fleet.keys.channelVoice('main'))).toBe('whisper');
      expect((await listSchedules(fleet.queues)).map((s) => ({ id: s.id, next: s.next }))).toEqual(schedulesBefore);
      expect((await fleet.queues.queue('playout', 'main').getJob(before.utteranceId))?.finishedOn).toBeGreaterThan(0);

      const restartedAt = Date.now();
      procs = await startAll();
      const upAgainMs = Date.now() - restartedAt;
      // The restarted scene worker puts the picture back on the fresh OBS.
      await eventually(async () => (obs!.programScene === 'BRB' && obs!.itemEnabled.get('Loop') === false ? true : undefined), 'the scene re-applied to OBS', 10000);
      // The next line speaks in the same voice, and is the first thing on air after the restart.
      const next = await chat('and this is the first line after the restart', { user: { login: 'fan2' } });
      const after = await airedEnd(next);
      expect(after.voice).toBe('whisper');
      const airedAfter = aired.filter((a) => a.at > killedAt);
      // If this fails, the broadcaster re-aired a completed line (src/broadcast is not this test's to fix).
      expect(airedAfter.filter((a) => a.utteranceId === lastLine)).toEqual([]);
      expect(airedAfter.map((a) => a.utteranceId)).toEqual([next, next]);
      expect((await listSchedules(fleet.queues)).map((s) => ({ id: s.id, next: s.next }))).toEqual(schedulesBefore);

      fs.mkdirSync(path.join(process.cwd(), 'test-artifacts'), { recursive: true });
      fs.writeFileSync(path.join(process.cwd(), 'test-artifacts', 'restart.json'), JSON.stringify({ fleetUpAgainMs: upAgainMs, firstLineAfterRestartMs: after.at - restartedAt, testMs: Date.now() - started }, null, 2));
    } finally {
      await sub.quit().catch(() => sub.disconnect());
    }
  });
});
