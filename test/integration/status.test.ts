import { Heartbeat } from '../../src/fleet';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import type { StatusReport } from '../../src/status/status';
import { TestFleet, eventually, runCli } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

describe('idolcast status', () => {
  let fleet: TestFleet;
  let beat: Heartbeat | undefined;

  afterEach(async () => {
    await beat?.stop();
    await fleet?.close();
  });

  it('shows depths, rates, live processes, breakers and on-air state, as text and as JSON', async () => {
    fleet = new TestFleet({
      tts: { engines: { cloud: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } } },
      voices: { cloudy: { engine: 'cloud', voice: 'nova', fallback: ['default'] } },
      channels: { main: { destinations: { twitch: { url: 'rtmp://127.0.0.1:1/app' }, youtube: { url: 'rtmp://127.0.0.1:1/live2' } } } },
    });
    const worker = fleet.start(['worker', 'maintenance']);
    await worker.waitForLog('worker ready');
    for (let i = 0; i < 4; i++) await fleet.queues.enqueue('maintenance', { task: 'sweep' });
    const maintenance = fleet.queues.queue('maintenance');
    await eventually(async () => ((await maintenance.getJobCounts('completed')).completed === 4 ? true : undefined), 'the sweeps to complete');
    // Scene jobs with no scene worker running wait in their queue.
    for (let i = 0; i < 3; i++) await fleet.queues.enqueue('scene', { channel: 'main', scene: `s${i}` });
    await fleet.redis.set(fleet.keys.breaker('cloud'), '{}', 'PX', 30_000);
    // An active broadcaster as the fleet sees it: its heartbeat and its published metrics.
    const metrics = createMetrics('broadcast', 'broadcast-test');
    metrics.destinationOnAir.set({ channel: 'main', destination: 'twitch' }, 1);
    metrics.destinationOnAir.set({ channel: 'main', destination: 'youtube' }, 0);
    metrics.destinationReconnects.inc({ channel: 'main', destination: 'youtube' }, 3);
    beat = new Heartbeat(fleet.redis, fleet.keys, 'broadcast-test', 'broadcast', fleet.config.workers.heartbeatMs, createLogger('test', 'silent'), metrics, () => ({ channel: 'main', role: 'active', encoderRunning: true }));
    beat.start();
    await eventually(async () => ((await fleet.redis.exists(fleet.keys.metrics('broadcast-test'))) ? true : undefined), 'the heartbeat');

    const json = await runCli(['status', '--json'], fleet.env());
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    const q = (name: string) => report.queues.find((x) => x.queue === name)!;
    expect(q('maintenance')).toMatchObject({ waiting: 0, active: 0, failed: 0, completedPerMin: 4, failedPerMin: 0 });
    expect(q('scene')).toMatchObject({ waiting: 3, completedPerMin: 0 });
    expect(q('playout-main')).toBeDefined();
    expect(report.fleet.find((f) => f.kind === 'worker-maintenance')).toMatchObject({ live: 1, processed: expect.any(Number) });
    expect(report.fleet.find((f) => f.kind === 'worker-tts')).toMatchObject({ live: 0 });
    expect(report.breakers).toEqual([{ engine: 'cloud', state: 'open', probeInMs: expect.any(Number) }]);
    expect(report.channels).toEqual([
      {
        channel: 'main', active: 'broadcast-test', standbys: 0, encoderRunning: true, vtubeStudio: null,
        destinations: [
          { destination: 'twitch', onAir: true, reconnects: 0 },
          { destination: 'youtube', onAir: false, reconnects: 3 },
        ],
      },
    ]);

    const text = await runCli(['status'], fleet.env());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^scene\s+3\s+0\s+0\s+0\s+0\s+0\s+0$/m);
    expect(text.stdout).toMatch(/^maintenance\s+0\s+0\s+0\s+0\s+0\s+4\s+0$/m);
    expect(text.stdout).toMatch(/^worker-maintenance\s+1\s/m);
    expect(text.stdout).toContain('cloud OPEN (probe in');
    expect(text.stdout).toMatch(/twitch\s+on air/);
    expect(text.stdout).toMatch(/youtube\s+OFF AIR\s+\(3 reconnects\)/);
  });

  it('--watch redraws until SIGTERM and exits 0', async () => {
    fleet = new TestFleet();
    const watch = fleet.start(['status', '--watch', '0.3', '--json']);
    await eventually(async () => (watch.lines.length >= 3 ? true : undefined), 'three refreshes', 20000);
    expect(watch.lines.every((l) => Array.isArray(l.queues))).toBe(true);
    watch.kill('SIGTERM');
    expect((await watch.exited).code).toBe(0);
  });

  it('Redis unreachable: one clear line and exit code 1', async () => {
    fleet = new TestFleet();
    const port = await freeLoopbackPort();
    const r = await runCli(['status'], fleet.env({ REDIS_URL: `redis://user:hunter2@127.0.0.1:${port}` }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^idolcast status: cannot reach Redis \\(redis://\\*\\*\\*@127\\.0\\.0\\.1:${port}\\): .*ECONNREFUSED`))]);
    expect(r.stderr).not.toContain('hunter2');
  });
});
