import type { AvatarPack } from './pack';
import { drawOver, unpremultiply } from './pixels';

/** What the avatar shows in one frame; the animator produces it, the renderer draws it. */
export interface AvatarState {
  /** Mouth openness 0 (closed) … 1 (open), or a viseme name the pack defines (A, I, U, E, O…). */
  mouth: number | string;
  /** Eye openness 1 (open) … 0 (closed), for blinks. */
  eyes: number;
  /** An expression the pack offers; an unknown name shows neutral. */
  expression: string;
  /** Breathing phase 0 … 1 (one breath). */
  breath: number;
}

export interface RendererOptions {
  /** Composites kept (one per distinct expression × eyes × mouth); idle and speech reuse them. */
  compositeCache?: number;
  /** Finished frames kept (composite × breathing offset). */
  frameCache?: number;
}

/** Openness below this is a closed mouth, below OPEN_AT a half-open one. */
export const HALF_AT = 0.15;
const OPEN_AT = 0.5;

export type MouthShape = 'closed' | 'half' | 'open';

/** The mouth layer an openness shows (the picture and the overlay agree on it). */
export function mouthShape(open: number): MouthShape {
  if (!(open >= HALF_AT)) return 'closed'; // NaN too: silence is a closed mouth
  return open < OPEN_AT ? 'half' : 'open';
}

function lruGet<V>(m: Map<string, V>, key: string): V | undefined {
  const v = m.get(key);
  if (v !== undefined) { m.delete(key); m.set(key, v); }
  return v;
}

function lruSet<V>(m: Map<string, V>, key: string, v: V, max: number): void {
  m.set(key, v);
  while (m.size > max) m.delete(m.keys().next().value!);
}

/**
 * Composites the avatar region (straight RGBA, width × height × 4 bytes: ffmpeg's `-pix_fmt rgba`
 * for its overlay filter, or YuvCompositor for a blend into the encoder's frame). A state is reduced to the few
 * layers it shows, and composites and frames are cached by those, so a still or idle avatar costs a
 * map lookup and repeated mouth shapes a cached copy. Returned buffers are shared: never write to them.
 */
export class AvatarRenderer {
  readonly stats = { frames: 0, frameHits: 0, compositeHits: 0, compositeMisses: 0 };
  private composites = new Map<string, Uint8Array>();
  private frames = new Map<string, Buffer>();
  private pack!: AvatarPack;
  private readonly compositeMax: number;
  private readonly frameMax: number;

  constructor(pack: AvatarPack, opts: RendererOptions = {}) {
    this.compositeMax = opts.compositeCache ?? 24;
    this.frameMax = opts.frameCache ?? 12;
    this.setPack(pack);
  }

  get width(): number { return this.pack.width; }
  get height(): number { return this.pack.height; }
  get anchors(): AvatarPack['anchors'] { return this.pack.anchors; }

  /** Swaps in a reloaded pack of the same size (a new size needs a new encoder input). */
  setPack(pack: AvatarPack): void {
    if (this.pack && (pack.width !== this.pack.width || pack.height !== this.pack.height)) {
      throw new Error(`avatar pack ${pack.dir} is ${pack.width}x${pack.height}, the running one ${this.pack.width}x${this.pack.height}`);
    }
    this.pack = pack;
    this.composites.clear();
    this.frames.clear();
  }

  hasExpression(name: string): boolean {
    return Object.hasOwn(this.pack.manifest.expressions, name);
  }

  expressionNames(): string[] {
    return Object.keys(this.pack.manifest.expressions);
  }

  /** The layer ids drawn for a state, bottom to top. */
  layersFor(state: AvatarState): string[] {
    const m = this.pack.manifest;
    const ex = m.expressions[this.hasExpression(state.expression) ? state.expression : 'neutral']!;
    const eyes = state.eyes > 0.66 ? (ex.eyesOpen ?? m.eyes.open) : state.eyes > 0.25 ? m.eyes.half : m.eyes.closed;
    const ids = [...m.base, eyes, this.mouthLayer(state.mouth, ex.mouthClosed), ...m.front];
    if (ex.brows) ids.push(ex.brows);
    return ids.concat(ex.overlays);
  }

  private mouthLayer(mouth: number | string, closed: string | undefined): string {
    const m = this.pack.manifest.mouth;
    if (typeof mouth === 'string') return Object.hasOwn(m.visemes, mouth) ? m.visemes[mouth]! : m.open;
    const shape = mouthShape(mouth);
    return shape === 'closed' ? (closed ?? m.closed) : m[shape];
  }

  /** Vertical breathing offset in pixels for a phase (rounded, so a breath has few distinct frames). */
  bobFor(breath: number): number {
    const amp = this.pack.manifest.breathing.amplitudePx * this.pack.manifest.scale;
    return Math.round((amp * (1 - Math.cos(2 * Math.PI * breath))) / 2);
  }

  render(state: AvatarState): Buffer {
    this.stats.frames++;
    const ids = this.layersFor(state);
    const key = ids.join('|');
    const bob = this.bobFor(state.breath);
    const frameKey = `${key}@${bob}`;
    const hit = lruGet(this.frames, frameKey);
    if (hit) { this.stats.frameHits++; return hit; }
    const composite = this.composite(key, ids);
    const stride = this.width * 4;
    // Breathing moves the whole character down by `bob` rows; the top rows it leaves are clear.
    const frame = Buffer.alloc(composite.length);
    frame.set(composite.subarray(0, composite.length - bob * stride), bob * stride);
    lruSet(this.frames, frameKey, frame, this.frameMax);
    return frame;
  }

  private composite(key: string, ids: string[]): Uint8Array {
    const hit = lruGet(this.composites, key);
    if (hit) { this.stats.compositeHits++; return hit; }
    this.stats.compositeMisses++;
    const out = new Uint8Array(this.width * this.height * 4);
    for (const id of ids) drawOver(out, this.width, this.pack.layers.get(id)!);
    unpremultiply(out);
    lruSet(this.composites, key, out, this.compositeMax);
    return out;
  }
}
