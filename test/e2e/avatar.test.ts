import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, runCli, eventually, type RunningProcess } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { ffmpegStdout, snapshotLiveHls, windowLevels } from '../helpers/hls';

/** The shipped default's avatar box (src/config/default.yaml) and the default character's mouth and brows in it. */
const AVATAR = { x: 760, y: 120, width: 480, height: 600 };
// Each box has a few pixels of margin around the layer so breathing (≤ 3 px down) keeps it inside.
const MOUTH = { x: AVATAR.x + 200, y: AVATAR.y + 300, width: 80, height: 60 };
// The sparkle the default character's happy face adds by her hair (src/avatar default pack, sparkle.svg).
const SPARKLE = { x: AVATAR.x + 94, y: AVATAR.y + 136, width: 52, height: 52 };
type Box = typeof AVATAR;

/** Grey frames of one box of a closed copy of the live view, at the stream's own frame rate. */
async function boxFrames(playlist: string, box: Box): Promise<Buffer[]> {
  const raw = await ffmpegStdout(['-i', playlist, '-map', '0:v', '-vf', `crop=${box.width}:${box.height}:${box.x}:${box.y},format=gray`, '-f', 'rawvideo', 'pipe:1']);
  const size = box.width * box.height;
  return Array.from({ length: Math.floor(raw.length / size) }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** Yellow pixels (the sparkle) in a box of the newest segment's first frame. */
async function yellowPixels(liveDir: string, box: Box): Promise<number> {
  const segs = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').split('\n').filter((l) => l.endsWith('.ts'));
  const rgb = await ffmpegStdout(['-i', path.join(liveDir, segs.at(-1)!), '-frames:v', '1', '-vf', `crop=${box.width}:${box.height}:${box.x}:${box.y}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  let n = 0;
  for (let i = 0; i + 2 < rgb.length; i += 3) if (rgb[i]! > 200 && rgb[i + 1]! > 200 && rgb[i + 2]! < 185) n++;
  return n;
}

/** A frame's speech level (RMS) that opens the mouth half way (the animator's gate and mapping: -38 dBFS). */
const HALF_OPEN_RMS = 0.013;

/** Dark pixels in the mouth box: a closed mouth is a thin line, an open one a dark red hole. */
const darkPixels = (f: Buffer) => f.reduce((n, v) => n + (v < 140 ? 1 : 0), 0);

/** Pixels of a frame that differ from another by more than a little (encoding noise). */
const changedPixels = (a: Buffer, b: Buffer) => a.reduce((n, v, i) => n + (Math.abs(v - b[i]!) > 24 ? 1 : 0), 0);

async function startFleet(): Promise<{ fleet: TestFleet; liveDir: string; broadcaster: RunningProcess }> {
  const fleet = new TestFleet();
  const procs = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
  await Promise.all([procs[0]!.waitForLog('worker ready'), procs[1]!.waitForLog('worker ready'), procs[2]!.waitForLog('broadcaster ready')]);
  const liveDir = path.join(fleet.dir, 'live', 'main');
  await eventually(async () => (fs.existsSync(path.join(liveDir, 'seg-2.ts')) ? true : undefined), 'the live view to start', 30000);
  return { fleet, liveDir, broadcaster: procs[2]! };
}

/** Waits until the live view holds a segment that starts `afterMs` past `at`. */
function liveViewPasses(liveDir: string, at: number, afterMs = 1500) {
  return eventually(async () => {
    const m = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').match(/#EXT-X-PROGRAM-DATE-TIME:(\S+)\s+seg-\d+\.ts\s*$/);
    return m && Date.parse(m[1]!.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) > at + afterMs ? true : undefined;
  }, 'the live view to pass the moment', 30000);
}

describe('the avatar in the live view (the shipped default, real espeak-ng and ffmpeg)', () => {
  let fleet: TestFleet | undefined;
  afterEach(async () => fleet?.close());

  it('is drawn over the background, and its mouth moves with the speech on air and stays closed in silence', async () => {
    const started = await startFleet();
    fleet = started.fleet;
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

  it('!emote happy from a moderator changes the expression on the picture, and a restarted broadcaster shows it again', async () => {
    const started = await startFleet();
    fleet = started.fleet;
    const { liveDir } = started;
    const neutral = await yellowPixels(liveDir, SPARKLE);
    const { pipeline } = testPipeline(fleet);
    const mod = { login: 'mod', displayName: 'Mod', roles: ['moderator' as const] };
    expect(await pipeline.accept(chatEvent('!emote happy', { user: mod }))).toEqual({ decision: 'command', reason: 'emote' });
    // A name the pack does not offer never reaches Redis or the broadcaster.
    await pipeline.accept(chatEvent('!emote x'.repeat(20), { user: mod }));
    expect(await fleet.redis.get(fleet.keys.avatarExpression('main'))).toBe('happy');
    const happyFrom = Date.now();
    await liveViewPasses(liveDir, happyFrom);
    const happy = await yellowPixels(liveDir, SPARKLE);
    expect(happy).toBeGreaterThan(neutral + 100);

    // Restarted, the broadcaster reads the expression back from Redis.
    started.broadcaster.kill('SIGTERM');
    await started.broadcaster.exited;
    const again = fleet.start(['broadcast']);
    await again.waitForLog('avatar expression', { expression: 'happy' }, 30000);
    const restartedAt = Date.now();
    await liveViewPasses(liveDir, restartedAt);
    expect(await yellowPixels(liveDir, SPARKLE)).toBeGreaterThan(neutral + 100);
  }, 180000);

  it('an avatar that does not fit the frame is left out with a logged reason; the channel stays on air', async () => {
    fleet = new TestFleet({ channels: { main: { video: { avatar: { x: 1000 } } } } });
    const broadcaster = fleet.start(['broadcast']);
    const why = await broadcaster.waitForLog('avatar not shown: its pack cannot be used here', {}, 30000);
    expect(String(why.err)).toMatch(/does not fit the 1280x720 frame/);
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    expect(broadcaster.child.exitCode).toBeNull();
  }, 60000);
});
