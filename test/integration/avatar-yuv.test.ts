import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDefaultPack } from '../../src/avatar/default-pack';
import { loadPack } from '../../src/avatar/pack';
import { AvatarRenderer } from '../../src/avatar/renderer';
import { YuvCompositor } from '../../src/avatar/yuv';

const W = 1280, H = 720, AT = { x: 400, y: 120 };
let tmp: string;

beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-avatar-yuv-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** One yuv420p frame from real ffmpeg: a colour background with the (straight) rgba avatar overlaid. */
function ffmpegOverlay(avatar: Buffer, aw: number, ah: number): Buffer {
  const out = spawnSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', `color=c=0x1e3250:s=${W}x${H}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${aw}x${ah}`, '-i', 'pipe:0',
    '-filter_complex', `[0:v][1:v]overlay=x=${AT.x}:y=${AT.y}:format=yuv420,format=yuv420p`,
    '-frames:v', '1', '-f', 'rawvideo', 'pipe:1'], { input: avatar, maxBuffer: 16 * 1024 * 1024 });
  return out.stdout;
}

describe('blending the avatar into the encoder frame in Node', () => {
  it('matches what ffmpeg overlay makes of the same picture', () => {
    const pack = loadPack(ensureDefaultPack(path.join(tmp, 'default')));
    const avatar = new AvatarRenderer(pack).render({ mouth: 0.9, eyes: 1, expression: 'happy', breath: 0 });
    const reference = ffmpegOverlay(avatar, pack.width, pack.height);
    expect(reference.length).toBe((W * H * 3) / 2);
    // The background as ffmpeg makes it, then our blend over it.
    const background = ffmpegOverlay(Buffer.alloc(pack.width * pack.height * 4), pack.width, pack.height);
    const blend = new YuvCompositor(W, H, pack.width, pack.height, AT);
    const ours = blend.compose(background, avatar);
    let worst = 0, sum = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i]! - reference[i]!);
      sum += d;
      if (d > worst) worst = d;
    }
    expect(sum / ours.length).toBeLessThan(0.05); // nearly every sample equal…
    expect(worst).toBeLessThanOrEqual(12); // …a few chroma samples at the outline off (rounding of 2x2 averages)
    expect(ours.equals(background)).toBe(false);
    expect(blend.compose(background, avatar)).toBe(ours); // same inputs: the same frame, no work
  });

  it('refuses a box on odd pixels or past the frame', () => {
    expect(() => new YuvCompositor(W, H, 480, 600, { x: 401, y: 120 })).toThrow(/even pixels/);
    expect(() => new YuvCompositor(W, H, 480, 600, { x: 900, y: 120 })).toThrow(/does not fit the 1280x720 frame/);
  });
});
