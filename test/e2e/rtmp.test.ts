import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, eventually, runCli, type RunningProcess } from '../helpers/fleet';
import { windowLevels } from '../helpers/hls';
import { NginxRtmp } from '../../testkit/nginx-rtmp';
import { descendantsOf, programOf } from '../../testkit/procfs';
import { RtmpViewer } from '../../testkit/rtmp-pull';
import { sleep } from '../../src/time';

const KEYS = { IDOLCAST_TEST_KEY_A: 'live_a_s3cr3t_key', IDOLCAST_TEST_KEY_B: 'live_b_s3cr3t_key' };

describe('broadcast to RTMP destinations (real ffmpeg, real nginx-rtmp)', () => {
  let fleet: TestFleet;
  let a: NginxRtmp;
  let b: NginxRtmp;
  const viewers: RtmpViewer[] = [];
  let procs: RunningProcess[] = [];

  beforeEach(async () => {
    fleet = new TestFleet();
    a = new NginxRtmp(path.join(fleet.dir, 'nginx-a'));
    b = new NginxRtmp(path.join(fleet.dir, 'nginx-b'));
    await Promise.all([a.start(), b.start()]);
    fleet.configure({ channels: { main: { destinations: { twitch: { url: a.url, keyEnv: 'IDOLCAST_TEST_KEY_A' }, youtube: { url: `${b.url}/`, keyEnv: 'IDOLCAST_TEST_KEY_B' } } } } });
    procs = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'], KEYS)];
    await Promise.all([procs[0]!.waitForLog('worker ready'), procs[1]!.waitForLog('worker ready')]);
    await procs[2]!.waitForLog('destination on air', { destination: 'twitch' }, 30000);
    await procs[2]!.waitForLog('destination on air', { destination: 'youtube' }, 30000);
  });

  afterEach(async () => {
    for (const v of viewers.splice(0)) v.stop();
    await fleet?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const watch = (url: string) => {
    const v = new RtmpViewer(url);
    viewers.push(v);
    return v;
  };

  it('say → the stream pulled back from the platform carries the speech, continuous before and after, and no stream key is logged', async () => {
    const viewer = watch(`${a.url}/${KEYS.IDOLCAST_TEST_KEY_A}`);
    await eventually(async () => (viewer.seconds > 2 ? true : undefined), 'two seconds of stream from the destination', 20000);
    const said = await runCli(['say', '--wait', 'Hello platform viewers, this line went out over RTMP.'], fleet.env(), 60000);
    expect(said.code).toBe(0);
    const aired = JSON.parse(said.stdout) as { startAt: number; endAt: number };
    await eventually(async () => (viewer.packets.at(-1)!.wall > aired.endAt + 2000 ? true : undefined), 'two seconds of stream after the line', 20000);

    // Continuous: no hole over 100 ms in the audio the platform received.
    expect(viewer.largestGapMs()).toBeLessThanOrEqual(100);
    const levels = windowLevels(viewer.audio, viewer.rate, 50);
    const loud = levels.map((l, i) => (l > 0.02 ? i : -1)).filter((i) => i >= 0);
    expect(loud.length).toBeGreaterThan(10);
    // When it is heard is the bench's figure (chat → audible on this same path), not this test's:
    // the viewer gets the cached GOP and the playout's lead in a burst, so its sample clock is no
    // wall clock.
    expect((loud.at(-1)! - loud[0]! + 1) * 50).toBeGreaterThan((aired.endAt - aired.startAt) * 0.6);
    // Silent stream before the line, and after it.
    expect(Math.max(...levels.slice(0, Math.max(1, loud[0]! - 2)))).toBeLessThan(0.001);
    expect(levels.length - loud.at(-1)!).toBeGreaterThan(10);

    const logs = JSON.stringify(procs.map((p) => [p.lines, p.stderr]));
    for (const key of Object.values(KEYS)) expect(logs).not.toContain(key);
    // Nor on any command line another local user can read: the broadcaster and its ffmpeg children.
    const broadcaster = procs[2]!.child.pid!;
    const cmdlines = [broadcaster, ...descendantsOf(broadcaster).map((p) => p.pid)].map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).join('\n');
    expect(cmdlines).toContain('-f\0flv');
    for (const key of Object.values(KEYS)) expect(cmdlines).not.toContain(key);
    // The keys were in the environment the broadcaster started with, which only its own user (and
    // root) can read; its ffmpeg children do not inherit them (the config loader took them out).
    expect(fs.statSync(`/proc/${broadcaster}/environ`).mode & 0o077).toBe(0);
    const children = descendantsOf(broadcaster).filter((p) => programOf(p) === 'ffmpeg');
    expect(children.length).toBeGreaterThan(0);
    const environs = children.map((p) => fs.readFileSync(`/proc/${p.pid}/environ`, 'utf8')).join('\n');
    expect(environs).toContain('PATH=');
    for (const [variable, key] of Object.entries(KEYS)) {
      expect(environs).not.toContain(key);
      expect(environs).not.toContain(`${variable}=`);
    }
  });

  it('one destination going down never interrupts the other, and the dropped one comes back on its own', async () => {
    const viewerA = watch(`${a.url}/${KEYS.IDOLCAST_TEST_KEY_A}`);
    await eventually(async () => (viewerA.seconds > 2 ? true : undefined), 'the stream on destination A', 20000);
    const downAt = Date.now();
    await b.stop();
    await procs[2]!.waitForLog('destination dropped: retrying', { destination: 'youtube' }, 15000);
    await sleep(3000);
    await b.start();
    const back = procs[2]!.lines.filter((l) => l.msg === 'destination on air' && l.destination === 'youtube').length;
    await eventually(async () => (procs[2]!.lines.filter((l) => l.msg === 'destination on air' && l.destination === 'youtube').length > back ? true : undefined), 'destination B back on air', 30000).catch((err: Error) => {
      throw new Error(`${err.message}; broadcaster said: ${JSON.stringify(procs[2]!.lines.filter((l) => String(l.msg).startsWith('destination')).slice(-8))}`);
    });
    const viewerB = watch(`${b.url}/${KEYS.IDOLCAST_TEST_KEY_B}`);
    await eventually(async () => (viewerB.seconds > 1 ? true : undefined), 'the stream on destination B again', 20000);

    // A carried on through all of it: its audio has no hole and kept pace with the wall clock.
    const during = viewerA.packets.filter((p) => p.wall >= downAt);
    expect(viewerA.largestGapMs(downAt)).toBeLessThanOrEqual(100);
    const streamSeconds = during.at(-1)!.pts - during[0]!.pts;
    const wallSeconds = (during.at(-1)!.wall - during[0]!.wall) / 1000;
    expect(Math.abs(streamSeconds - wallSeconds)).toBeLessThan(1);
    expect(procs[2]!.lines.filter((l) => l.msg === 'destination dropped: retrying' && l.destination === 'twitch')).toHaveLength(0);
    expect(procs[2]!.lines.filter((l) => l.msg === 'encoder exited: restarting')).toHaveLength(0);
  });
});
