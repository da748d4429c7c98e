/**
 * Pixel helpers on premultiplied RGBA (4 bytes a pixel). Layers are kept premultiplied because
 * "over" is then one multiply-add per channel and bilinear scaling has no dark fringes; finished
 * composites are turned back into straight RGBA, which ffmpeg's overlay takes by default (its
 * `alpha=premultiplied` mode darkens opaque luma by 16 onto yuv420 in ffmpeg 5.1: measured).
 */

/** A picture placed on the avatar canvas: only its non-transparent box is kept. */
export interface Sprite { x: number; y: number; width: number; height: number; data: Uint8Array }

/** Straight RGBA (as PNG decoders give it) → premultiplied, in place. */
export function premultiply(rgba: Uint8Array): Uint8Array {
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]!;
    if (a === 255) continue;
    rgba[i] = (rgba[i]! * a + 127) / 255;
    rgba[i + 1] = (rgba[i + 1]! * a + 127) / 255;
    rgba[i + 2] = (rgba[i + 2]! * a + 127) / 255;
  }
  return rgba;
}

/** Premultiplied → straight RGBA, in place. */
export function unpremultiply(rgba: Uint8Array): Uint8Array {
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]!;
    if (a === 255 || a === 0) continue;
    rgba[i] = Math.min(255, (rgba[i]! * 255 + (a >> 1)) / a);
    rgba[i + 1] = Math.min(255, (rgba[i + 1]! * 255 + (a >> 1)) / a);
    rgba[i + 2] = Math.min(255, (rgba[i + 2]! * 255 + (a >> 1)) / a);
  }
  return rgba;
}

/** Crops a picture at (x, y) to the box of its visible pixels, so compositing skips the empty rest. */
export function trim(x: number, y: number, width: number, height: number, data: Uint8Array): Sprite {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (data[(r * width + c) * 4 + 3] === 0) continue;
      if (c < x0) x0 = c;
      if (c > x1) x1 = c;
      if (r < y0) y0 = r;
      if (r > y1) y1 = r;
    }
  }
  if (x1 < 0) return { x, y, width: 0, height: 0, data: new Uint8Array(0) };
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const out = new Uint8Array(w * h * 4);
  for (let r = 0; r < h; r++) out.set(data.subarray(((y0 + r) * width + x0) * 4, ((y0 + r) * width + x1 + 1) * 4), r * w * 4);
  return { x: x + x0, y: y + y0, width: w, height: h, data: out };
}

/** Bilinear resize of a premultiplied sprite by `scale` (done once at load, never per frame). */
export function scaleSprite(s: Sprite, scale: number): Sprite {
  if (scale === 1 || s.width === 0) return s;
  const w = Math.max(1, Math.round(s.width * scale)), h = Math.max(1, Math.round(s.height * scale));
  const out = new Uint8Array(w * h * 4);
  for (let r = 0; r < h; r++) {
    const sy = Math.min(s.height - 1, Math.max(0, (r + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(s.height - 1, y0 + 1), fy = sy - y0;
    for (let c = 0; c < w; c++) {
      const sx = Math.min(s.width - 1, Math.max(0, (c + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(s.width - 1, x0 + 1), fx = sx - x0;
      for (let k = 0; k < 4; k++) {
        const p = (yy: number, xx: number) => s.data[(yy * s.width + xx) * 4 + k]!;
        const top = p(y0, x0) * (1 - fx) + p(y0, x1) * fx, bottom = p(y1, x0) * (1 - fx) + p(y1, x1) * fx;
        out[(r * w + c) * 4 + k] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { x: Math.round(s.x * scale), y: Math.round(s.y * scale), width: w, height: h, data: out };
}

/**
 * Draws a sprite over a premultiplied canvas (`dst`, `dstWidth` wide): out = src + dst × (1 − αsrc).
 * Opaque pixels are copied and clear ones skipped, which is most of a drawn character.
 */
export function drawOver(dst: Uint8Array, dstWidth: number, s: Sprite): void {
  const src = s.data;
  for (let r = 0; r < s.height; r++) {
    let si = r * s.width * 4, di = ((s.y + r) * dstWidth + s.x) * 4;
    for (let c = 0; c < s.width; c++, si += 4, di += 4) {
      const a = src[si + 3]!;
      if (a === 0) continue;
      if (a === 255) {
        dst[di] = src[si]!; dst[di + 1] = src[si + 1]!; dst[di + 2] = src[si + 2]!; dst[di + 3] = 255;
        continue;
      }
      const k = 255 - a;
      dst[di] = src[si]! + ((dst[di]! * k + 127) / 255 | 0);
      dst[di + 1] = src[si + 1]! + ((dst[di + 1]! * k + 127) / 255 | 0);
      dst[di + 2] = src[si + 2]! + ((dst[di + 2]! * k + 127) / 255 | 0);
      dst[di + 3] = a + ((dst[di + 3]! * k + 127) / 255 | 0);
    }
  }
}
