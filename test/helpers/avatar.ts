import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, eventually, type RunningProcess } from './fleet';
import { ffmpegStdout } from './hls';

/** The shipped default's avatar box (src/config/default.yaml) and the default character's parts in it. */
export const AVATAR = { x: 760, y: 120, width: 480, height: 600 };
// Each box has a few pixels of margin around the layer so breathing (≤ 3 px down) keeps it inside.
export const MOUTH = { x: AVATAR.x + 200, y: AVATAR.y + 300, width: 80, height: 60 };
/** The sparkle the default character's happy face adds by her hair (assets/avatar/default/sparkle.svg). */
export const SPARKLE = { x: AVATAR.x + 94, y: AVATAR.y + 136, width: 52, height: 52 };
/** The tear her sad face adds under her left eye (tear.svg). */
export const TEAR = { x: AVATAR.x + 300, y: AVATAR.y + 270, width: 36, height: 54 };
export type Box = typeof AVATAR;

/** Pixels of one box of the newest segment's first frame (RGB) that `match`. */
async function countPixels(liveDir: string, box: Box, match: (r: number, g: number, b: number) => boolean): Promise<number> {
  const segs = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').split('\n').filter((l) => l.endsWith('.ts'));
  const rgb = await ffmpegStdout(['-i', path.join(liveDir, segs.at(-1)!), '-frames:v', '1', '-vf', `crop=${box.width}:${box.height}:${box.x}:${box.y}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  let n = 0;
  for (let i = 0; i + 2 < rgb.length; i += 3) if (match(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!)) n++;
  return n;
}

/** Yellow pixels (the happy face's sparkle) in the sparkle's box. */
export const sparklePixels = (liveDir: string) => countPixels(liveDir, SPARKLE, (r, g, b) => r > 200 && g > 200 && b < 185);
/** Light blue pixels (the sad face's tear) in the tear's box. */
export const tearPixels = (liveDir: string) => countPixels(liveDir, TEAR, (r, g, b) => b > 200 && g > 160 && b - r > 40);

/** Pixels of the avatar's box unlike the shipped background colour (#1d1b2e): her, when she is on the picture. */
export const avatarPixels = (liveDir: string) => countPixels(liveDir, AVATAR, (r, g, b) => Math.abs(r - 0x1d) + Math.abs(g - 0x1b) + Math.abs(b - 0x2e) > 60);

/** A fleet of `tts`, `audio` and the broadcaster (plus `extra` processes), its live view started. */
export async function startAvatarFleet(fleet: TestFleet, extra: string[][] = []): Promise<{ liveDir: string; broadcaster: RunningProcess; others: RunningProcess[] }> {
  const args = [['worker', 'tts'], ['worker', 'audio'], ...extra];
  const workers = args.map((a) => fleet.start(a));
  const broadcaster = fleet.start(['broadcast']);
  const ready = workers.map((p, i) => p.waitForLog(args[i]![0] === 'ingest' ? 'ingest ready' : 'worker ready', {}, 30000));
  await Promise.all([...ready, broadcaster.waitForLog('broadcaster ready', {}, 30000)]);
  const liveDir = path.join(fleet.dir, 'live', 'main');
  await eventually(async () => (fs.existsSync(path.join(liveDir, 'seg-2.ts')) ? true : undefined), 'the live view to start', 30000);
  return { liveDir, broadcaster, others: workers };
}

/** Waits until the live view holds a segment that starts `afterMs` past `at`. */
export function liveViewPasses(liveDir: string, at: number, afterMs = 1500) {
  return eventually(async () => {
    const m = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').match(/#EXT-X-PROGRAM-DATE-TIME:(\S+)\s+seg-\d+\.ts\s*$/);
    return m && Date.parse(m[1]!.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) > at + afterMs ? true : undefined;
  }, 'the live view to pass the moment', 30000);
}
