import { PNG } from 'pngjs';
import type { AvatarPack } from './pack';
import { AvatarRenderer, type AvatarState } from './renderer';

/**
 * A contact sheet of a pack as PNG: one row per expression, columns for closed/half/open mouths,
 * blink and each viseme, over a dark backdrop. For a streamer checking their own pack, and kept as
 * a test artifact for the default one.
 */
export function contactSheet(pack: AvatarPack, backdrop: [number, number, number] = [30, 50, 80]): Buffer {
  const renderer = new AvatarRenderer(pack);
  const base: AvatarState = { mouth: 0, eyes: 1, expression: 'neutral', breath: 0 };
  const columns: Array<Partial<AvatarState>> = [
    { mouth: 0 }, { mouth: 0.3 }, { mouth: 1 }, { eyes: 0 },
    ...Object.keys(pack.manifest.mouth.visemes).map((v) => ({ mouth: v })),
  ];
  const rows = Object.keys(pack.manifest.expressions);
  const { width: w, height: h } = renderer;
  const png = new PNG({ width: w * columns.length, height: h * rows.length });
  rows.forEach((expression, r) => columns.forEach((col, c) => {
    const f = renderer.render({ ...base, ...col, expression });
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const si = (y * w + x) * 4, di = ((r * h + y) * png.width + c * w + x) * 4, a = f[si + 3]! / 255;
        for (let k = 0; k < 3; k++) png.data[di + k] = Math.round(f[si + k]! * a + backdrop[k]! * (1 - a));
        png.data[di + 3] = 255;
      }
    }
  }));
  return PNG.sync.write(png);
}
