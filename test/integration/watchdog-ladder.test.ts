import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Watchdog, type Fault, type Step } from '../../src/broadcast/watchdog';
import { createLogger } from '../../src/logger';
import { eventually } from '../helpers/fleet';

/**
 * The watchdog's escalation on real segments (ffmpeg reads them), driven by a playlist the test
 * writes: what it does when a fault changes shape mid-episode, and how long it gives a fresh encoder.
 */
describe('the watchdog ladder', () => {
  let dir: string;
  let silent: Buffer;
  let watchdog: Watchdog | undefined;
  let feeder: NodeJS.Timeout | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-watchdog-'));
    const file = path.join(dir, 'silent-source.ts');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '1', '-c:a', 'aac', '-f', 'mpegts', file]);
    silent = fs.readFileSync(file);
  });
  afterEach(() => {
    watchdog?.stop();
    clearInterval(feeder);
    for (const f of fs.readdirSync(dir)) if (f !== 'silent-source.ts') fs.rmSync(path.join(dir, f));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** An "encoder" writing a silent one-second segment every 250 ms (the watchdog counts the playlist's durations) until stopped. */
  function writeSegments(): void {
    let n = 0;
    const listed: string[] = [];
    feeder = setInterval(() => {
      const name = `seg${n++}.ts`;
      fs.writeFileSync(path.join(dir, name), silent);
      listed.push(`#EXTINF:1.000,\n${name}`);
      fs.writeFileSync(path.join(dir, 'index.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:1\n${listed.slice(-6).join('\n')}\n`);
    }, 250);
  }

  function start(encoderRunningSince: () => number | undefined, restartEncoder: () => void = () => {}) {
    const taken: { fault: Fault; step: Step }[] = [];
    const fallbacks: Fault[] = [];
    const alerts: [Fault, boolean][] = [];
    watchdog = new Watchdog(
      dir,
      { expectSound: true, silenceMs: 1500, stallMs: 800, stepMs: 600, checkEveryMs: 50 },
      {
        restartEncoder,
        encoderRunningSince,
        fallback: (fault) => fallbacks.push(fault),
        alert: (fault, on) => alerts.push([fault, on]),
        acted: (fault, step) => taken.push({ fault, step }),
      },
      createLogger('test', 'silent'),
    );
    watchdog.start();
    return { taken, fallbacks, alerts };
  }

  it('a fault that changes shape (silence, then the stream stalls) is one episode: the ladder goes on to the fallback and the alert', async () => {
    writeSegments();
    const { taken, fallbacks, alerts } = start(() => undefined);
    await eventually(async () => (taken.length ? true : undefined), 'the silence noticed', 15000);
    expect(taken[0]).toEqual({ fault: 'silence', step: 'restart-encoder' });
    clearInterval(feeder); // the "encoder" stops writing: now the stream is stalled
    await eventually(async () => (taken.length >= 3 ? true : undefined), 'the ladder climbed', 20000);
    expect(taken.map((t) => t.step)).toEqual(['restart-encoder', 'fallback', 'alert']);
    expect(taken.filter((t) => t.step === 'restart-encoder')).toHaveLength(1);
    expect(fallbacks).toHaveLength(1);
    // The alert names the fault the stream has when it is raised.
    expect(alerts.at(-1)).toEqual([taken[2]!.fault, true]);
  });

  it('a fresh encoder run gets time for its first segment before a stall is called', async () => {
    const startedAt = Date.now();
    const { taken } = start(() => startedAt);
    // No segment at all: stalled only once stallMs has passed after the run's own stallMs of grace.
    await eventually(async () => (taken.length ? true : undefined), 'the stall noticed', 15000);
    expect(taken[0]).toEqual({ fault: 'stalled', step: 'restart-encoder' });
    // Load can only delay the watchdog's checks, never bring them forward: this bound is firm.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1600);
  });

  it('an action that throws (the encoder cannot be restarted) is logged: the watchdog keeps checking and climbs to the fallback', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // No segment at all: stalled, and the first step's action fails.
      const { taken, fallbacks } = start(() => undefined, () => {
        throw new Error('spawn ffmpeg ENOENT');
      });
      await eventually(async () => (fallbacks.length ? true : undefined), 'the fallback after a failed restart', 15000);
      expect(taken.map((t) => t.step).slice(0, 2)).toEqual(['restart-encoder', 'fallback']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
