import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, eventually } from '../helpers/fleet';
import { NginxRtmp } from '../../testkit/nginx-rtmp';
import { descendantsOf, programOf } from '../../testkit/procfs';
import { sleep } from '../../src/time';

/** OBS stand-in pushing a still picture (a plain colour) over RTMP. */
const publishStill = (url: string, colour: string): ChildProcess =>
  spawn('ffmpeg', ['-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${colour}:s=320x180:r=15`, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-f', 'flv', url], { stdio: 'ignore' });

/** The pid of the channel's encoder (the ffmpeg writing the playlist) under a broadcaster. */
function encoderOf(broadcaster: number): number {
  const encoder = descendantsOf(broadcaster).find((p) => programOf(p) === 'ffmpeg' && p.args.includes('index.m3u8'));
  if (!encoder) throw new Error('no encoder running under the broadcaster');
  return encoder.pid;
}

describe('the broadcast watchdog (real ffmpeg output)', () => {
  let fleet: TestFleet;
  let nginx: NginxRtmp | undefined;
  let obs: ChildProcess | undefined;
  afterEach(async () => {
    obs?.kill('SIGKILL');
    await fleet?.close();
    await nginx?.stop();
    nginx = obs = undefined;
  });
  const figures: Record<string, number> = {};
  afterAll(() => {
    fs.mkdirSync('test-artifacts', { recursive: true });
    fs.writeFileSync('test-artifacts/watchdog.json', `${JSON.stringify(figures)}\n`);
  });

  it('the playout forced silent with the bed off: noticed, the encoder restarted, then the bed brought back', async () => {
    fleet = new TestFleet({ playout: { bed: { source: 'generated' } } });
    const broadcast = fleet.start(['broadcast'], { IDOLCAST_FAULT_INJECTION: '1' });
    await broadcast.waitForLog('broadcaster ready', {}, 30000);
    await sleep(3000); // a few segments with the bed on: no fault
    expect(broadcast.lines.filter((l) => l.msg === 'watchdog: fault')).toHaveLength(0);

    const injectedAt = Date.now();
    await fleet.redis.publish(fleet.keys.control('main'), JSON.stringify({ action: 'inject', fault: 'bed-off' }));
    const fault = await broadcast.waitForLog('watchdog: fault', { fault: 'silence' }, 20000);
    figures.silenceNoticedMs = Date.parse(String(fault.time)) - injectedAt;
    await broadcast.waitForLog('watchdog: acting', { fault: 'silence', step: 'restart-encoder' }, 10000);
    await broadcast.waitForLog('watchdog: acting', { fault: 'silence', step: 'fallback' }, 15000);
    const recovered = await broadcast.waitForLog('watchdog: recovered', { fault: 'silence' }, 15000);
    figures.silenceRecoveredMs = Date.parse(String(recovered.time)) - injectedAt;
    // The budget is 5 s to notice; the measured figure is in test-artifacts/watchdog.json.
    expect(figures.silenceNoticedMs).toBeLessThan(10000);
    expect(broadcast.lines.some((l) => l.msg === 'watchdog: acting' && l.step === 'alert')).toBe(false);
  });

  it('a frozen encoder (no new segments): noticed and restarted, the stream comes back', async () => {
    fleet = new TestFleet();
    const broadcast = fleet.start(['broadcast']);
    await broadcast.waitForLog('broadcaster ready', {}, 30000);
    await sleep(2000);
    const encoderPid = encoderOf(broadcast.child.pid!);
    const frozenAt = Date.now();
    process.kill(encoderPid, 'SIGSTOP');
    const fault = await broadcast.waitForLog('watchdog: fault', { fault: 'stalled' }, 20000);
    figures.stallNoticedMs = Date.parse(String(fault.time)) - frozenAt;
    await broadcast.waitForLog('watchdog: acting', { fault: 'stalled', step: 'restart-encoder' }, 10000);
    const recovered = await broadcast.waitForLog('watchdog: recovered', { fault: 'stalled' }, 20000);
    figures.stallRecoveredMs = Date.parse(String(recovered.time)) - frozenAt;
    expect(broadcast.lines.filter((l) => l.msg === 'encoder started').length).toBeGreaterThanOrEqual(2);
    expect(figures.stallNoticedMs).toBeLessThan(10000);
  });

  it('the encoder killed: a new one is encoding at once and the live view goes on', async () => {
    fleet = new TestFleet();
    const broadcast = fleet.start(['broadcast']);
    await broadcast.waitForLog('broadcaster ready', {}, 30000);
    await sleep(1500);
    const encoderPid = encoderOf(broadcast.child.pid!);
    const playlist = path.join(fleet.dir, 'live', 'main', 'index.m3u8');
    const segmentsBefore = fs.readFileSync(playlist, 'utf8').match(/\.ts$/gm)!.length;
    const killedAt = Date.now();
    process.kill(encoderPid, 'SIGKILL');
    await broadcast.waitForLog('encoder exited: restarting', {}, 5000);
    const started = await eventually(async () => broadcast.lines.filter((l) => l.msg === 'encoder started')[1], 'a new encoder', 10000);
    figures.encoderRestartMs = Date.parse(String(started.time)) - killedAt;
    // The playlist continues (with a discontinuity) rather than starting over.
    await eventually(async () => (fs.readFileSync(playlist, 'utf8').includes('#EXT-X-DISCONTINUITY') ? true : undefined), 'segments from the new encoder', 15000, 200);
    expect(fs.readFileSync(playlist, 'utf8').match(/\.ts$/gm)!.length).toBeGreaterThanOrEqual(Math.min(segmentsBefore, 3));
    // The budget is 2 s (the measured figure is in test-artifacts/watchdog.json); this bounds a broken restart.
    expect(figures.encoderRestartMs).toBeLessThan(5000);
  });

  // The feed's own frozen check is off (frozenMs 0), so only the watchdog on the output can catch these.
  it.each([
    ['frozen', 'white'],
    ['black', 'black'],
  ])('a %s picture from the feed: noticed on the output, the encoder restarted, then the slate', async (fault, colour) => {
    fleet = new TestFleet();
    nginx = new NginxRtmp(path.join(fleet.dir, 'nginx'));
    await nginx.start();
    const feedUrl = `${nginx.url}/still`;
    obs = publishStill(feedUrl, colour);
    // Without the avatar: drawn over the feed, it keeps the output from being black (a feed's fault, not the viewers').
    fleet.configure({ channels: { main: { video: { feed: { url: feedUrl, frozenMs: 0 }, avatar: { enabled: false } } } } });
    const broadcast = fleet.start(['broadcast']);
    const on = await broadcast.waitForLog('video feed on air', {}, 30000);
    const noticed = await broadcast.waitForLog('watchdog: fault', { fault }, 20000);
    figures[`${fault}NoticedMs`] = Date.parse(String(noticed.time)) - Date.parse(String(on.time));
    await broadcast.waitForLog('watchdog: acting', { fault, step: 'restart-encoder' }, 10000);
    await broadcast.waitForLog('watchdog: acting', { fault, step: 'fallback' }, 15000);
    await broadcast.waitForLog('video feed lost: slate on air', { reason: 'watchdog' }, 10000);
    const recovered = await broadcast.waitForLog('watchdog: recovered', { fault }, 15000);
    figures[`${fault}RecoveredMs`] = Date.parse(String(recovered.time)) - Date.parse(String(on.time));
    expect(broadcast.lines.some((l) => l.msg === 'watchdog: acting' && l.step === 'alert')).toBe(false);
    // The budget is 5 s from the picture going bad (here: from the feed coming on air) to noticing.
    expect(figures[`${fault}NoticedMs`]).toBeLessThan(10000);
  });
});
