import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { HlsEncoder } from '../../src/broadcast/hls-encoder';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { sleep } from '../../src/time';


/** The newest complete segment of a live view. */
const newestSegment = (dir: string) => path.join(dir, fs.readFileSync(path.join(dir, 'index.m3u8'), 'utf8').split('\n').filter((l) => l.endsWith('.ts')).at(-1)!);
/** The first picture of a segment, as 32×18 RGB. */
const thumb = (file: string) => spawnSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-frames:v', '1', '-vf', 'scale=32:18', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']).stdout;
/** The kinds of stream in a segment (MPEG-TS lists them under its program too: counted once). */
const streams = (file: string) => [...new Set(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', file]).stdout.toString().split('\n').map((l) => l.trim()).filter(Boolean))].sort();

describe('the picture of a channel: a still image, a looped video, or none (real ffmpeg)', () => {
  let dir: string;
  let encoder: HlsEncoder | undefined;
  let feed: NodeJS.Timeout | undefined;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-picture-'))));
  afterEach(async () => {
    clearInterval(feed);
    await encoder?.stop();
    encoder = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Run an encoder for the channel's `video` settings until `segments` segments are out. */
  async function run(video: Record<string, unknown>, segments = 3, log = createLogger('test', 'silent')): Promise<string> {
    const config = parseConfig(JSON.stringify({ channels: { main: { video: { captions: false, ...video } } } }), 'x.yaml');
    const liveDir = path.join(dir, 'hls');
    encoder = new HlsEncoder(config.channels.main!, liveDir, 24000, log);
    encoder.start();
    feed = setInterval(() => encoder!.write(Buffer.alloc(480 * 2), Date.now()), 20); // silence in real time, as the playout feeds it
    await encoder.clockReady;
    const count = () => (fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').match(/\.ts$/gm) ?? []).length;
    while (count() < segments) await sleep(100);
    return liveDir;
  }

  it('a still image fills the frame', async () => {
    const image = path.join(dir, 'red.png');
    spawnSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=320x180', '-frames:v', '1', image]);
    const live = await run({ image });
    const rgb = thumb(newestSegment(live));
    const mid = (9 * 32 + 16) * 3;
    expect(rgb[mid]!).toBeGreaterThan(200); // red
    expect(rgb[mid + 1]!).toBeLessThan(60);
    expect(streams(newestSegment(live))).toEqual(['audio', 'video']);
  });

  it('a looped video keeps playing past its end', async () => {
    const clip = path.join(dir, 'clip.mp4');
    spawnSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=15:d=1', '-pix_fmt', 'yuv420p', clip]);
    const live = await run({ loop: clip }, 3);
    const a = thumb(newestSegment(live));
    await sleep(1300);
    const b = thumb(newestSegment(live));
    // Past the 1 s clip the picture still comes (the playlist grows) and is the clip's, not black.
    expect(a.reduce((s, v) => s + v, 0) / a.length).toBeGreaterThan(40);
    expect(b.length).toBe(a.length);
  });

  it('audio only: the stream carries no picture', async () => {
    const live = await run({ audioOnly: true });
    expect(streams(newestSegment(live))).toEqual(['audio']);
  });

  it('a graceful stop after the playout stops lets ffmpeg write its last segment and exit by itself (no SIGKILL)', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) });
    const live = await run({}, 2, createLogger('test', 'debug', sink));
    const listed = () => fs.readFileSync(path.join(live, 'index.m3u8'), 'utf8').match(/\.ts$/gm)!.length;
    clearInterval(feed); // the playout stops first, as in the broadcaster's stop: ffmpeg's stdin goes quiet
    const before = listed();
    await encoder!.stop();
    const exit = lines.find((l) => l.msg === 'ffmpeg exited' && l.role === 'encoder');
    expect({ code: exit?.code, signal: exit?.signal }).toEqual({ code: 0, signal: null });
    expect(listed()).toBeGreaterThan(before);
  });

  it('two pictures at once is a config error naming the field', () => {
    expect(() => parseConfig('channels: { main: { video: { image: a.png, audioOnly: true } } }', 'x.yaml')).toThrow(/channels\.main\.video.*choose one picture/s);
  });
});
