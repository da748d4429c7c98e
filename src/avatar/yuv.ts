/**
 * Blends the avatar (straight RGBA, as the renderer gives it) into a yuv420p frame in Node, for an encoder fed one
 * raw yuv420p input (the frame pacer today). BT.601 limited range, as ffmpeg converts rgba by
 * default. The renderer hands out the same buffer for the same picture, so blended frames are kept
 * by avatar buffer (a few, for the same background): a mouth going back and forth costs nothing new.
 */
export interface Placement { x: number; y: number }

export class YuvCompositor {
  private background?: Buffer;
  private readonly blended = new Map<Buffer, Buffer>();

  constructor(readonly width: number, readonly height: number, readonly avatarWidth: number, readonly avatarHeight: number, readonly at: Placement, private readonly keep = 8) {
    if (at.x % 2 || at.y % 2 || avatarWidth % 2 || avatarHeight % 2) throw new Error('the avatar box must sit on even pixels (yuv420p chroma is 2x2)');
    if (at.x + avatarWidth > width || at.y + avatarHeight > height) throw new Error(`the ${avatarWidth}x${avatarHeight} avatar at ${at.x},${at.y} does not fit the ${width}x${height} frame`);
  }

  /** A new frame: `background` (yuv420p, not modified) with `avatar` over it. */
  compose(background: Buffer, avatar: Buffer): Buffer {
    if (background !== this.background) { this.blended.clear(); this.background = background; }
    const hit = this.blended.get(avatar);
    if (hit) return hit;
    const frame = Buffer.from(background);
    this.blendLuma(frame, avatar);
    this.blendChroma(frame, avatar);
    this.blended.set(avatar, frame);
    if (this.blended.size > this.keep) this.blended.delete(this.blended.keys().next().value!);
    return frame;
  }

  private blendLuma(frame: Buffer, a: Buffer): void {
    const { width: fw, avatarWidth: w, avatarHeight: h, at } = this;
    for (let r = 0; r < h; r++) {
      let si = r * w * 4, di = (at.y + r) * fw + at.x;
      for (let c = 0; c < w; c++, si += 4, di++) {
        const al = a[si + 3]!;
        if (al === 0) continue;
        const y = 16 + 0.2568 * a[si]! + 0.5041 * a[si + 1]! + 0.0979 * a[si + 2]!;
        frame[di] = (y * al + frame[di]! * (255 - al)) / 255 + 0.5;
      }
    }
  }

  private blendChroma(frame: Buffer, a: Buffer): void {
    const { width: fw, height: fh, avatarWidth: w, avatarHeight: h, at } = this;
    const u0 = fw * fh, v0 = u0 + (fw / 2) * (fh / 2), cw = fw / 2;
    for (let r = 0; r < h; r += 2) {
      for (let c = 0; c < w; c += 2) {
        // The 2x2 block's average premultiplied colour and coverage.
        const p = (r * w + c) * 4, q = p + w * 4;
        const a0 = a[p + 3]!, a1 = a[p + 7]!, a2 = a[q + 3]!, a3 = a[q + 7]!;
        const A = (a0 + a1 + a2 + a3) / 4;
        if (A === 0) continue;
        const pm = (o: number) => (a[p + o]! * a0 + a[p + 4 + o]! * a1 + a[q + o]! * a2 + a[q + 4 + o]! * a3) / 1020;
        const R = pm(0), G = pm(1), B = pm(2);
        const k = 1 - A / 255, ci = ((at.y + r) / 2) * cw + (at.x + c) / 2;
        frame[u0 + ci] = (128 * A) / 255 - 0.1482 * R - 0.291 * G + 0.4392 * B + frame[u0 + ci]! * k + 0.5;
        frame[v0 + ci] = (128 * A) / 255 + 0.4392 * R - 0.3678 * G - 0.0714 * B + frame[v0 + ci]! * k + 0.5;
      }
    }
  }
}
