import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { NginxRtmp } from '../../testkit/nginx-rtmp';
import { descendantsOf } from '../../testkit/procfs';
import { RtmpViewer } from '../../testkit/rtmp-pull';
import { sleep } from '../../src/time';

const KEY = { IDOLCAST_TEST_KEY: 'standby_s3cr3t' };
const at = (p: RunningProcess, msg: string) => p.lines.filter((l) => l.msg === msg).map((l) => Date.parse(String(l.time)));

describe('hot standby broadcasters (real nginx-rtmp, real ffmpeg)', () => {
  let fleet: TestFleet;
  let nginx: NginxRtmp;
  const viewers: RtmpViewer[] = [];
  afterEach(async () => {
    for (const v of viewers.splice(0)) v.stop();
    await fleet?.close();
    await nginx?.stop();
  });

  it('SIGKILL of the active broadcaster: the standby publishes again; a paused one that wakes up never pushes over the new one', async () => {
    fleet = new TestFleet();
    nginx = new NginxRtmp(path.join(fleet.dir, 'nginx'));
    await nginx.start();
    fleet.configure({ channels: { main: { destinations: { twitch: { url: nginx.url, keyEnv: 'IDOLCAST_TEST_KEY' } } } } });

    const first = fleet.start(['broadcast'], KEY);
    const active1 = await first.waitForLog('broadcaster active');
    await first.waitForLog('destination on air', {}, 30000);
    const second = fleet.start(['broadcast'], KEY);
    await second.waitForLog('broadcaster standby: waiting for the channel lock');
    // A warm standby: encoding already, its pusher started, published nowhere.
    await second.waitForLog('broadcaster warm: encoding, published nowhere yet', {}, 20000);
    await sleep(1000);
    expect(at(second, 'broadcaster active')).toHaveLength(0);

    // Its ffmpeg processes (encoder, pusher) must not outlive it.
    const ffmpegs = descendantsOf(first.child.pid!).filter((p) => p.ppid === first.child.pid).map((p) => p.pid);
    expect(ffmpegs.length).toBeGreaterThanOrEqual(2);
    const killedAt = Date.now();
    first.kill('SIGKILL');
    const active2 = await second.waitForLog('broadcaster active', {}, 10000);
    await second.waitForLog('destination on air', {}, 15000);
    const takeover = { lockMs: Date.parse(String(active2.time)) - killedAt, publishingMs: at(second, 'destination on air')[0]! - killedAt };
    expect(active2.fence).toBeGreaterThan(active1.fence as number);
    // The measured figure goes into the issue notes; the assertion only bounds a broken takeover.
    fs.mkdirSync('test-artifacts', { recursive: true });
    fs.writeFileSync('test-artifacts/standby-takeover.json', `${JSON.stringify({ ...takeover, killedAt, log: second.lines.map((l) => [l.time, l.msg, l.why ?? '']) })}\n`);
    expect(takeover.publishingMs).toBeLessThan(10000);
    await eventually(async () => (ffmpegs.every((pid) => !fs.existsSync(`/proc/${pid}`)) ? true : undefined), 'the killed broadcaster\'s ffmpeg processes to end', 10000);
    const viewer = new RtmpViewer(`${nginx.url}/${KEY.IDOLCAST_TEST_KEY}`);
    viewers.push(viewer);
    await eventually(async () => (viewer.seconds > 1 ? true : undefined), 'the stream from the new active broadcaster', 20000);

    // Pause the active one past its lease; a third takes over; the paused one wakes and steps down.
    const third = fleet.start(['broadcast'], KEY);
    await third.waitForLog('broadcaster standby: waiting for the channel lock');
    second.kill('SIGSTOP');
    const paused = Date.now();
    const active3 = await third.waitForLog('broadcaster active', {}, 10000);
    expect(active3.fence).toBeGreaterThan(active2.fence as number);
    await third.waitForLog('destination on air', {}, 15000).catch(() => undefined);
    await sleep(Math.max(0, 3000 - (Date.now() - paused)));
    const airBefore = at(second, 'destination on air').length;
    second.kill('SIGCONT');
    const lost = await second.waitForLog('lost the broadcast lock: stopping', {}, 10000);
    expect(lost.fence).toBe(active2.fence);
    expect((await second.exited).code).toBe(1);
    expect(at(second, 'destination on air')).toHaveLength(airBefore);
    // Never two at once: each took the lock only after the one before had lost it.
    expect(Date.parse(String(active3.time))).toBeGreaterThan(paused);
    const viewer3 = new RtmpViewer(`${nginx.url}/${KEY.IDOLCAST_TEST_KEY}`);
    viewers.push(viewer3);
    await eventually(async () => (viewer3.seconds > 1 ? true : undefined), 'the stream from the third broadcaster', 20000);
  });

  it('SIGTERM of the active broadcaster hands over without waiting for the lock to lapse', async () => {
    fleet = new TestFleet();
    const first = fleet.start(['broadcast']);
    await first.waitForLog('broadcaster active');
    const second = fleet.start(['broadcast']);
    await second.waitForLog('broadcaster standby: waiting for the channel lock');
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    await second.waitForLog('broadcaster active', {}, 10000);
  });
});
