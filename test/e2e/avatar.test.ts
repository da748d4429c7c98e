import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, eventually, runCli } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { ffmpegStdout, snapshotLiveHls, windowLevels } from '../helpers/hls';
import { AVATAR, MOUTH, liveViewPasses, sparklePixels, startAvatarFleet, type Box } from '../helpers/avatar';

/** Grey frames of one box of a closed copy of the live view, at the stream's own frame rate. */
async function boxFrames(playlist: string, box: Box): Promise<Buffer[]> {
  const raw = await ffmpegStdout(['-i', playlist, '-map', '0:v', '-vf', `crop=${box.width}:${box.height}:${box.x}:${box.y},format=gray`, '-f', 'rawvideo', 'pipe:1']);
  const size = box.width * box.height;
  return Array.from({ length: Math.floor(raw.length / size) }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** Every frame of a closed copy of the live view, scaled to 64×36 RGB (20×20 pixels a cell). */
async function thumbs(playlist: string): Promise<Buffer[]> {
  const raw = await ffmpegStdout(['-i', playlist, '-map', '0:v', '-vf', 'scale=64:36', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  const size = 64 * 36 * 3;
  return Array.from({ length: Math.floor(raw.length / size) }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** Cells of a thumb within [x0, x1) × [y0, y1) that `match` their RGB. */
function cells(t: Buffer, [x0, x1, y0, y1]: number[], match: (r: number, g: number, b: number, i: number) => boolean): number {
  let n = 0;
  for (let y = y0!; y < y1!; y++) for (let x = x0!; x < x1!; x++) { const i = (y * 64 + x) * 3; if (match(t[i]!, t[i + 1]!, t[i + 2]!, i)) n++; }
  return n;
}

/** A frame's speech level (RMS) that opens the mouth half way (the animator's gate and mapping: -38 dBFS). */
const HALF_OPEN_RMS = 0.013;

/** Dark pixels in the mouth box: a closed mouth is a thin line, an open one a dark red hole. */
const darkPixels = (f: Buffer) => f.reduce((n, v) => n + (v < 140 ? 1 : 0), 0);

/** Pixels of a frame that differ from another by more than a little (encoding noise). */
const changedPixels = (a: Buffer, b: Buffer) => a.reduce((n, v, i) => n + (Math.abs(v - b[i]!) > 24 ? 1 : 0), 0);

describe('the avatar in the live view (the shipped default, real espeak-ng and ffmpeg)', () => {
  let fleet: TestFleet | undefined;
  afterEach(async () => fleet?.close());

  it('is drawn over the background, and its mouth moves with the speech on air and stays closed in silence', async () => {
    fleet = new TestFleet();
    const started = await startAvatarFleet(fleet);
    const said = await runCli(['say', '--wait', 'Hello everyone, this is the idol speaking, with her mouth moving in time.'], fleet.env(), 60000);
    expect(said.code).toBe(0);
    const aired = JSON.parse(said.stdout) as { endAt: number };
    await liveViewPasses(started.liveDir, aired.endAt);
    const playlist = snapshotLiveHls(started.liveDir, fleet.dir);

    // Present: most of the avatar's box differs from the background next to it.
    const [avatar] = await boxFrames(playlist, AVATAR);
    const [background] = await boxFrames(playlist, { ...AVATAR, x: 40 });
    expect(changedPixels(avatar!, background!)).toBeGreaterThan(AVATAR.width * AVATAR.height * 0.3);

    // Frame k of the stream goes with the audio of its frame time.
    const fps = fleet.config.channels.main!.video.fps;
    const mouths = (await boxFrames(playlist, MOUTH)).map(darkPixels);
    const levels = windowLevels(await ffmpegStdout(['-i', playlist, '-map', '0:a', '-f', 's16le', '-ac', '1', '-ar', '16000', 'pipe:1']), 16000, 1000 / fps);
    const around = (k: number, n: number) => levels.slice(Math.max(0, k - n), k + n + 1);
    const silent = mouths.filter((_, k) => k < levels.length && around(k, 3).every((l) => l < 0.001));
    const speaking = mouths.filter((_, k) => around(k, 2).length === 5 && around(k, 2).every((l) => l > 0.02));
    expect(silent.length).toBeGreaterThan(fps * 2);
    expect(speaking.length).toBeGreaterThan(fps);
    // The closed shape is what silence shows most (the median): a frame at the edge of a word may
    // still be closing (the release lasts ~2 frames, and a loaded machine shifts the edge by one).
    const closed = [...silent].sort((a, b) => a - b)[Math.floor(silent.length / 2)]!;
    // In silence the mouth stays that closed shape: nearly every silent frame shows it.
    const steady = silent.filter((d) => Math.abs(d - closed) < closed * 0.5 + 20);
    expect(steady.length).toBeGreaterThan(silent.length * 0.9);
    // While speech plays it opens: most speaking frames show more mouth than any silent one.
    const open = speaking.filter((d) => d > closed * 2 + 40);
    expect(open.length).toBeGreaterThan(speaking.length * 0.5);

    // In sync as viewers get it: where speech starts after quiet, the mouth opens in the same frame, ±1
    // (the decoded AAC carries its encoder's priming, ~21 ms, which MPEG-TS does not trim: the sound reads a little late).
    const onsets = levels.flatMap((l, k) => (k >= 6 && l > HALF_OPEN_RMS && levels.slice(k - 6, k).every((p) => p <= HALF_OPEN_RMS) ? [k] : []));
    expect(onsets.length).toBeGreaterThan(0);
    const offsets = onsets.map((k) => mouths.findIndex((d, j) => j >= k - 3 && d > closed + 20) - k);
    for (const o of offsets) expect(Math.abs(o)).toBeLessThanOrEqual(1);
  }, 180000);

  it('!emote happy from a moderator changes the expression on the picture; a warm standby taking over and a restarted broadcaster show it again', async () => {
    // A standby waits beside the active one throughout: a lease long enough that a loaded machine's late renewal is not a takeover.
    fleet = new TestFleet({ playout: { leaderLockMs: 5000 } });
    const { liveDir, broadcaster } = await startAvatarFleet(fleet);
    const neutral = await sparklePixels(liveDir);
    const standby = fleet.start(['broadcast']);
    const { pipeline } = testPipeline(fleet);
    const mod = { login: 'mod', displayName: 'Mod', roles: ['moderator' as const] };
    expect(await pipeline.accept(chatEvent('!emote happy', { user: mod }))).toEqual({ decision: 'command', reason: 'emote' });
    // A name the pack does not offer never reaches Redis or the broadcaster.
    await pipeline.accept(chatEvent('!emote x'.repeat(20), { user: mod }));
    expect(await fleet.redis.get(fleet.keys.avatarExpression('main'))).toBe('happy');
    await liveViewPasses(liveDir, Date.now());
    expect(await sparklePixels(liveDir)).toBeGreaterThan(neutral + 100);

    // The warm standby (encoding already, published nowhere) takes over from a killed active one and reads the expression back.
    await standby.waitForLog('broadcaster warm: encoding, published nowhere yet', {}, 30000);
    broadcaster.kill('SIGKILL');
    await standby.waitForLog('broadcaster active', {}, 15000);
    await standby.waitForLog('avatar expression', { expression: 'happy' }, 15000);
    await liveViewPasses(liveDir, Date.now());
    expect(await sparklePixels(liveDir)).toBeGreaterThan(neutral + 100);

    // Restarted, the broadcaster reads the expression back from Redis.
    standby.kill('SIGTERM');
    await standby.exited;
    const again = fleet.start(['broadcast']);
    await again.waitForLog('avatar expression', { expression: 'happy' }, 30000);
    await liveViewPasses(liveDir, Date.now());
    expect(await sparklePixels(liveDir)).toBeGreaterThan(neutral + 100);
  }, 240000);

  it('an avatar that does not fit the frame is left out with a logged reason; the channel stays on air', async () => {
    fleet = new TestFleet({ channels: { main: { video: { avatar: { x: 1000 } } } } });
    const broadcaster = fleet.start(['broadcast']);
    const why = await broadcaster.waitForLog('avatar not shown: its pack cannot be used here', {}, 30000);
    expect(String(why.err)).toMatch(/does not fit the 1280x720 frame/);
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    expect(broadcaster.child.exitCode).toBeNull();
  }, 60000);

  // The background left of the avatar (cells 2..30 × 4..32) and the avatar's own box (38..62 × 6..36).
  const LEFT = [2, 30, 4, 32];
  const AVATAR_CELLS = [40, 60, 10, 34];
  const red = (r: number, g: number, b: number) => r > 170 && g < 90 && b < 90;

  it.each([['a still image', 'bg.png', ['-frames:v', '1']], ['a looped video', 'bg.mp4', ['-t', '2', '-pix_fmt', 'yuv420p']]])('%s stays the background behind the avatar', async (_what, name, out) => {
    fleet = new TestFleet();
    const file = path.join(fleet.dir, name);
    // Red with a white square moving across it (a still image: its first frame).
    const src = ['-f', 'lavfi', '-i', 'color=c=red:s=320x180:r=15', '-f', 'lavfi', '-i', 'color=c=white:s=40x40:r=15', '-filter_complex', "[0][1]overlay=x='mod(t*120,280)':y=60"];
    expect(spawnSync('ffmpeg', ['-loglevel', 'error', ...src, ...out, file]).status).toBe(0);
    fleet.configure({ channels: { main: { video: name === 'bg.png' ? { image: file } : { loop: file } } } });
    const broadcaster = fleet.start(['broadcast']);
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    const liveDir = path.join(fleet.dir, 'live', 'main');
    await eventually(async () => (fs.existsSync(path.join(liveDir, 'seg-3.ts')) ? true : undefined), 'the live view to start', 30000);
    const frames = (await thumbs(snapshotLiveHls(liveDir, fleet.dir))).slice(-30);
    for (const f of frames) {
      // The picture is the file (red around the square), the avatar is drawn over it (her box is not red).
      expect(cells(f, LEFT, red)).toBeGreaterThan(28 * 28 * 0.8);
      expect(cells(f, AVATAR_CELLS, (r, g, b) => !red(r, g, b))).toBeGreaterThan(20 * 24 * 0.5);
    }
    // The looped video plays on under her (its square moves); the image stays still.
    const moved = cells(frames[0]!, LEFT, (r, g, b, i) => Math.abs(r + g + b - frames.at(-1)![i]! - frames.at(-1)![i + 1]! - frames.at(-1)![i + 2]!) > 120);
    if (name === 'bg.mp4') expect(moved).toBeGreaterThan(0);
    else expect(moved).toBe(0);
  }, 120000);
});
