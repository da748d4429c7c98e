import { Queues } from '../../queues/registry';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { pickPhrase } from '../../src/schedule/phrase-pool';
import { previewSchedule } from '../../src/schedule/preview';
import { listSchedules, removeSchedule, syncSchedules } from '../../src/schedule/schedules';
import { TestFleet, eventually, redisUrl, runCli, type RunningProcess } from '../helpers/fleet';
import { createRedis } from '../../src/redis';
import { sleep } from '../../src/time';

const logsOf = (p: RunningProcess, msg: string, routine?: string) => p.lines.filter((l) => l.msg === msg && (routine === undefined || l.routine === routine));

/** Pending firings per scheduler: BullMQ must hold exactly one for each. */
async function pendingFirings(fleet: TestFleet): Promise<Record<string, number>> {
  const jobs = await fleet.queues.queue('routine').getJobs(['wait', 'delayed', 'prioritized']);
  const out: Record<string, number> = {};
  for (const j of jobs) {
    const key = String(j.id).split(':')[1] ?? '?';
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('the scheduler (real Redis, BullMQ job schedulers)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('syncs the config: three routines → three schedulers; an edit applies, a removed one goes, concurrent syncs make no duplicates', async () => {
    fleet = new TestFleet({
      schedule: {
        routines: {
          morning: { cron: '0 8 * * *', tz: 'Europe/Berlin', action: { say: 'good morning' } },
          hourly: { every: '1h', action: { scene: 'clock' } },
          pledge: { every: '2h', action: { say: 'remember to hydrate' } },
        },
      },
    });
    // The ingest process syncs at start.
    const ingest = fleet.start(['ingest']);
    const synced = await ingest.waitForLog('schedules synced');
    expect(synced.added).toEqual(['morning', 'hourly', 'pledge']);
    ingest.kill('SIGTERM');
    await ingest.exited;
    const before = await listSchedules(fleet.queues);
    expect(before.map((s) => s.name).sort()).toEqual(['hourly', 'morning', 'pledge']);
    expect(before.find((s) => s.name === 'morning')).toMatchObject({ pattern: '0 8 * * *', tz: 'Europe/Berlin' });
    // BullMQ's next firing of the cron routine is the first one the preview computes.
    expect(before.find((s) => s.name === 'morning')!.next).toBe(previewSchedule(fleet.config, Date.now(), 48).firings.find((f) => f.routine === 'morning')!.at);

    fleet.configure({ schedule: { routines: { hourly: { every: '30m', action: { scene: 'clock2' } }, pledge: undefined } } });
    const out = await runCli(['schedule', 'sync'], fleet.env());
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ added: [], updated: ['hourly'], unchanged: ['morning'], removed: ['pledge'], failed: [] });
    const after = await listSchedules(fleet.queues);
    expect(after.map((s) => s.name).sort()).toEqual(['hourly', 'morning']);
    expect(after.find((s) => s.name === 'hourly')).toMatchObject({ every: 1_800_000, payload: { action: { scene: 'clock2' } } });
    // The unchanged routine kept its next firing.
    expect(after.find((s) => s.name === 'morning')!.next).toBe(before.find((s) => s.name === 'morning')!.next);

    // Two replicas syncing a new config at the same instant, plus a CLI sync.
    fleet.configure({ schedule: { routines: { extra: { every: '45m', action: { scene: 'x' } } } } });
    const otherRedis = createRedis(redisUrl());
    const other = new Queues(otherRedis, fleet.prefix);
    const [a, b] = await Promise.all([syncSchedules(fleet.queues, fleet.config), syncSchedules(other, fleet.config), runCli(['schedule', 'sync'], fleet.env())]);
    await other.close();
    await otherRedis.quit();
    expect([...a.added, ...b.added, ...a.updated, ...b.updated].filter((n) => n !== 'extra')).toEqual([]);
    expect((await listSchedules(fleet.queues)).map((s) => s.name).sort()).toEqual(['extra', 'hourly', 'morning']);
    expect(await pendingFirings(fleet)).toEqual({ 'routine-extra': 1, 'routine-hourly': 1, 'routine-morning': 1 });

    const list = await runCli(['schedule', 'list'], fleet.env());
    expect(list.stdout).toMatch(/morning\s+cron "0 8 \* \* \*" Europe\/Berlin/);
    expect(list.stdout).toMatch(/hourly\s+every 1800000 ms .* scene clock2/);
  });

  it('an every schedule of 200 ms fires at that rate and stops when removed', async () => {
    fleet = new TestFleet({ schedule: { routines: { tick: { every: '200ms', action: { scene: 'tick' } } } } });
    const worker = fleet.start(['worker', 'routine']);
    await worker.waitForLog('worker ready');
    await syncSchedules(fleet.queues, fleet.config);
    await worker.waitForLog('routine done', { routine: 'tick' });
    const start = logsOf(worker, 'routine done', 'tick').length;
    await sleep(3000);
    const fired = logsOf(worker, 'routine done', 'tick').length - start;
    // 3 s / 200 ms = 15 firings; the tolerance covers a busy shared machine.
    expect(fired).toBeGreaterThanOrEqual(12);
    expect(fired).toBeLessThanOrEqual(17);
    // Each firing switched the scene once, with an id of its own tick.
    const scenes = await fleet.queues.queue('scene').getJobs(['wait', 'prioritized']);
    expect(new Set(scenes.map((j) => j.id)).size).toBe(scenes.length);

    expect(await removeSchedule(fleet.queues, 'tick')).toBe(true);
    await sleep(300); // a firing already taken may still finish
    const atRemoval = logsOf(worker, 'routine done', 'tick').length;
    await sleep(1200);
    expect(logsOf(worker, 'routine done', 'tick').length).toBe(atRemoval);
    expect(await listSchedules(fleet.queues)).toEqual([]);
  });

  it('a timeline of five steps runs in order at its offsets; SIGKILL of the routine worker at step 3 neither skips nor repeats a step', async () => {
    const steps = [0, 2, 4, 6, 8].map((s, i) => ({ at: `${s}s`, scene: `step-${i + 1}` }));
    fleet = new TestFleet({ schedule: { timelines: { show: steps } } });
    const sub = createRedis(redisUrl());
    const seen: { scene: string; at: number }[] = [];
    sub.on('message', (_c: string, m: string) => {
      const e = JSON.parse(m) as { type: string; scene: string };
      if (e.type === 'scene') seen.push({ scene: e.scene, at: Date.now() });
    });
    await sub.subscribe(fleet.keys.events('main'));
    try {
      let routine = fleet.start(['worker', 'routine']);
      const scene = fleet.start(['worker', 'scene']);
      await Promise.all([routine.waitForLog('worker ready'), scene.waitForLog('worker ready')]);

      const run = await runCli(['timeline', 'run', 'show'], fleet.env());
      expect(run.code).toBe(0);
      const { runId } = JSON.parse(run.stdout) as { runId: string };
      const startedAt = Number(await fleet.redis.hget(fleet.keys.timelineRun(runId), 'startedAt'));

      await eventually(async () => (seen.some((s) => s.scene === 'step-3') ? true : undefined), 'step 3 on air', 15000);
      routine.kill('SIGKILL');
      await routine.exited;
      routine = fleet.start(['worker', 'routine']);
      await routine.waitForLog('worker ready');
      await eventually(async () => (seen.some((s) => s.scene === 'step-5') ? true : undefined), 'step 5 on air', 20000);
      await sleep(3000); // a taken-over step 3 (lock expiry 2 s in tests) would show up by now

      expect(seen.map((s) => s.scene)).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5']);
      // Tolerance: each step on air within 1 s after its offset (worker hand-offs on a shared machine).
      seen.forEach((s, i) => {
        const late = s.at - (startedAt + i * 2000);
        expect(late).toBeGreaterThanOrEqual(-50);
        expect(late).toBeLessThan(1000);
      });
      const list = await runCli(['timeline', 'list'], fleet.env());
      expect(JSON.parse(list.stdout.trim().split('\n')[0]!)).toMatchObject({ runId, timeline: 'show', steps: 5, state: 'running' });
    } finally {
      await sub.quit();
    }
  });

  it('a cancelled timeline runs none of its remaining steps', async () => {
    // Steps 2–4 come late enough that a cancel on a busy machine still catches them waiting.
    fleet = new TestFleet({ schedule: { timelines: { long: [0, 4, 5, 6].map((s, i) => ({ at: `${s}s`, scene: `c-${i + 1}` })) } } });
    const routine = fleet.start(['worker', 'routine']);
    await routine.waitForLog('worker ready');
    const { runId } = JSON.parse((await runCli(['timeline', 'run', 'long'], fleet.env())).stdout) as { runId: string };
    await routine.waitForLog('timeline step', { runId });
    const cancel = await runCli(['timeline', 'cancel', runId], fleet.env());
    expect(JSON.parse(cancel.stdout)).toEqual({ runId, cancelled: true, removedSteps: 3 });
    const startedAt = Number(await fleet.redis.hget(fleet.keys.timelineRun(runId), 'startedAt'));
    await sleep(Math.max(0, startedAt + 7500 - Date.now()));
    const scenes = await fleet.queues.queue('scene').getJobs(['wait', 'prioritized']);
    expect(scenes.map((j) => (j.data as { scene: string }).scene)).toEqual(['c-1']);
    expect((await runCli(['timeline', 'cancel', 'no-such-run'], fleet.env())).code).toBe(1);
  });

  it('ticks missed while the fleet was down: the latest runs once, the rest are dropped; past the grace it is dropped too', async () => {
    fleet = new TestFleet({ schedule: { routines: { beat: { every: '1s', action: { scene: 'beat' } } } } });
    await syncSchedules(fleet.queues, fleet.config);
    await sleep(3500); // nobody at work: three or four ticks pass
    const worker = fleet.start(['worker', 'routine']);
    await worker.waitForLog('worker ready');
    const first = await worker.waitForLog('routine done', { routine: 'beat' });
    expect(first.lateMs).toBeGreaterThan(2500);
    await sleep(2200);
    const done = logsOf(worker, 'routine done', 'beat');
    // One catch-up firing, then back on the 1 s beat: no burst of missed ticks.
    expect(done.filter((l) => (l.lateMs as number) > 1000)).toHaveLength(1);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThanOrEqual(4);
    worker.kill('SIGTERM');
    await worker.exited;

    // With a 1 s grace, a firing 3 s late is dropped (and said so), the next on-time one runs.
    await removeSchedule(fleet.queues, 'beat');
    fleet.configure({ schedule: { lateGraceMs: 1000, routines: { beat: undefined, greet: { every: '1s', action: { say: 'good morning' } } } } });
    await syncSchedules(fleet.queues, fleet.config);
    await sleep(3000);
    const strict = fleet.start(['worker', 'routine']);
    const dropped = await strict.waitForLog('routine late', { routine: 'greet' });
    expect(dropped.lateMs).toBeGreaterThan(2000);
    await strict.waitForLog('routine done', { routine: 'greet' });
    expect(logsOf(strict, 'routine late', 'greet')).toHaveLength(1);
  });

  it('phrase pools give every line once before repeating; quiet hours silence routines that do not ignore them', async () => {
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    fleet = new TestFleet({
      schedule: {
        quietHours: { start: hhmm(Date.now() - 3_600_000), end: hhmm(Date.now() + 3_600_000) },
        phrasePools: { hello: ['hi there', 'hello again', 'welcome back'] },
        routines: {
          hush: { every: '1h', action: { say: 'should stay silent' } },
          loud: { every: '1h', ignoreQuietHours: true, action: { pool: 'hello' } },
          lights: { every: '1h', action: { scene: 'night' } },
        },
      },
    });
    const worker = fleet.start(['worker', 'routine']);
    await worker.waitForLog('worker ready');
    await syncSchedules(fleet.queues, fleet.config);
    await worker.waitForLog('routine quiet', { routine: 'hush' });
    await worker.waitForLog('routine done', { routine: 'loud' });
    await worker.waitForLog('routine done', { routine: 'lights' });
    const tts = await fleet.queues.queue('tts').getJobs(['wait', 'prioritized']);
    expect(tts.map((j) => (j.data as { origin: { user: string } }).origin.user)).toEqual(['routine:loud']);
    expect(['hi there', 'hello again', 'welcome back']).toContain((tts[0]!.data as { text: string }).text);
    // A manual run ignores quiet hours.
    expect((await runCli(['schedule', 'run', 'hush'], fleet.env())).code).toBe(0);
    await worker.waitForLog('routine done', { routine: 'hush' });

    // The rotation itself: 4 rounds of a 3-line pool.
    const lines = ['a', 'b', 'c'];
    const picks: string[] = [];
    for (let i = 0; i < 12; i++) picks.push(await pickPhrase(fleet.redis, fleet.keys, 'rot', lines));
    for (let round = 0; round < 4; round++) expect([...picks.slice(round * 3, round * 3 + 3)].sort()).toEqual(lines);
    for (let i = 1; i < picks.length; i++) expect(picks[i]).not.toBe(picks[i - 1]);
    // An edited pool starts a new round with the new lines.
    const edited = ['x', 'y'];
    const next = [await pickPhrase(fleet.redis, fleet.keys, 'rot', edited), await pickPhrase(fleet.redis, fleet.keys, 'rot', edited)];
    expect(next.sort()).toEqual(edited);
  });

  it('a bad cron pattern or an unknown action stops every command with exit code 2 and the field path', async () => {
    fleet = new TestFleet();
    const bad = path.join(fleet.dir, 'bad.yaml');
    // The fleet's config (which has a schedule section of its own) with one more routine.
    const withRoutine = (name: string, routine: unknown) => {
      const cfg = YAML.parse(fs.readFileSync(fleet.configPath, 'utf8')) as { schedule?: { routines?: Record<string, unknown> } };
      cfg.schedule = { ...cfg.schedule, routines: { ...cfg.schedule?.routines, [name]: routine } };
      fs.writeFileSync(bad, YAML.stringify(cfg));
    };
    withRoutine('broken', { cron: '0 25 * * *', action: { scene: 'x' } });
    for (const command of [['schedule', 'sync'], ['ingest'], ['worker', 'routine']]) {
      const out = await runCli(command, fleet.env({ IDOLCAST_CONFIG: bad }));
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/schedule\.routines\.broken\.cron: not a valid cron pattern/);
    }
    withRoutine('odd', { every: '1h', action: { juggle: 3 } });
    const odd = await runCli(['schedule', 'preview'], fleet.env({ IDOLCAST_CONFIG: bad }));
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/schedule\.routines\.odd\.action: an action with one of: say, pool, scene, avatar, timeline, maintenance/);
  });
});
