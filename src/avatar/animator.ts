import type { AvatarState } from './renderer';

/** A seeded random source in [0, 1) (mulberry32), so tests and benches replay the same blinks. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MouthOptions {
  /** Below this level (dBFS, RMS) the mouth is shut: room tone and dither never flap it. */
  gateDb: number;
  /** At or above this level the mouth is fully open. */
  fullDb: number;
  /** Opening time constant: short, so the mouth opens in the frame the sound starts. */
  attackMs: number;
  /** Closing time constant: longer, so it does not chatter between syllables. */
  releaseMs: number;
}

const NO_AUDIO_FRAME_MS = 1000 / 30;

export const DEFAULT_MOUTH: MouthOptions = { gateDb: -42, fullDb: -14, attackMs: 12, releaseMs: 45 };

/** RMS level of 16-bit samples in dBFS (−Infinity for none or digital silence). */
export function levelDb(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return 10 * Math.log10(sum / samples.length / (32768 * 32768));
}

/**
 * Mouth openness 0..1 from the samples encoded with one video frame: gated and mapped from level,
 * then smoothed from `previous` with attack/release over the samples' duration.
 */
export function mouthFromPcm(samples: Int16Array, sampleRate: number, previous = 0, opts: MouthOptions = DEFAULT_MOUTH): number {
  const db = levelDb(samples);
  const target = db < opts.gateDb ? 0 : Math.min(1, (db - opts.gateDb) / (opts.fullDb - opts.gateDb));
  // No samples for a frame (an underrun, a stalled playout) counts as a frame of silence, so the
  // mouth closes instead of freezing open.
  const dtMs = samples.length > 0 ? (samples.length / sampleRate) * 1000 : NO_AUDIO_FRAME_MS;
  const tau = target > previous ? opts.attackMs : opts.releaseMs;
  const next = previous + (target - previous) * (1 - Math.exp(-dtMs / tau));
  // Snap the tail of a release to zero so silence really shows a closed mouth (and hits the cache).
  return next < 0.02 ? 0 : next;
}

export interface AnimatorOptions {
  random?: () => number;
  /** Pause between blinks, drawn uniformly from this range. */
  blinkEveryMs?: [number, number];
  /** One blink: half-closed, closed, half-closed, each this long. */
  blinkPhaseMs?: number;
  breathPeriodMs?: number;
  /** An expression set without its own hold returns to neutral after this long. */
  neutralAfterMs?: number;
  mouth?: MouthOptions;
}

/**
 * The avatar's life, as a pure function of time and the audio on air: blinks at random pauses,
 * breathing, lip sync from the encoded samples, and an expression that falls back to neutral.
 * Time is passed in (the encoder's media clock), never read from the wall clock here.
 */
export class Animator {
  private readonly random: () => number;
  private readonly blinkEvery: [number, number];
  private readonly blinkPhase: number;
  private readonly breathPeriod: number;
  private readonly neutralAfter: number;
  private readonly mouthOpts: MouthOptions;
  private nextBlinkAt: number;
  private mouth = 0;
  private expression = 'neutral';
  private expressionUntil = Infinity;
  /** An expression set ahead of the frames it belongs to (a line's emotion, due when its first sample airs). */
  private pending?: { name: string; from?: number; hold: number };
  blinks = 0;

  constructor(opts: AnimatorOptions = {}, startMs = 0) {
    this.random = opts.random ?? Math.random;
    this.blinkEvery = opts.blinkEveryMs ?? [2000, 6000];
    this.blinkPhase = opts.blinkPhaseMs ?? 50;
    this.breathPeriod = opts.breathPeriodMs ?? 4200;
    this.neutralAfter = opts.neutralAfterMs ?? 10_000;
    this.mouthOpts = opts.mouth ?? DEFAULT_MOUTH;
    this.nextBlinkAt = startMs + this.blinkPause();
  }

  private blinkPause(): number {
    const [lo, hi] = this.blinkEvery;
    return lo + this.random() * (hi - lo);
  }

  /**
   * Shows `name` in the frames from `fromMs` on (a time on the media clock, e.g. a line's first
   * sample; frames before it keep what they showed), or from the next frame when it is undefined
   * (the media clock runs apart from the wall clock, by how long the encoder took to start);
   * neutral again `holdMs` later (default: the configured time).
   */
  setExpression(name: string, fromMs: number | undefined, holdMs = this.neutralAfter): void {
    this.pending = { name, from: fromMs, hold: holdMs };
  }

  expressionAt(nowMs: number): string {
    const p = this.pending;
    if (p && (p.from === undefined || nowMs >= p.from)) {
      this.pending = undefined;
      this.expression = p.name;
      this.expressionUntil = p.name === 'neutral' ? Infinity : (p.from ?? nowMs) + p.hold;
    }
    if (nowMs >= this.expressionUntil) { this.expression = 'neutral'; this.expressionUntil = Infinity; }
    return this.expression;
  }

  private eyesAt(nowMs: number): number {
    // A blink runs half → closed → half over three phases after nextBlinkAt, then the next is drawn.
    // After a jump in time (a restart, a long stall) the schedule starts afresh instead of catching up.
    if (nowMs > this.nextBlinkAt + 3 * this.blinkPhase + this.blinkEvery[1]) this.nextBlinkAt = nowMs + this.blinkPause();
    while (nowMs >= this.nextBlinkAt + 3 * this.blinkPhase) {
      this.nextBlinkAt += 3 * this.blinkPhase + this.blinkPause();
      this.blinks++;
    }
    const into = nowMs - this.nextBlinkAt;
    if (into < 0) return 1;
    return Math.floor(into / this.blinkPhase) === 1 ? 0 : 0.5;
  }

  /**
   * The state for the frame at `nowMs` whose audio is `samples` (the PCM encoded with that frame),
   * or a viseme from TTS timing when the engine gives one.
   */
  frame(nowMs: number, samples: Int16Array, sampleRate: number, viseme?: string): AvatarState {
    this.mouth = mouthFromPcm(samples, sampleRate, this.mouth, this.mouthOpts);
    return {
      mouth: viseme !== undefined && this.mouth > 0 ? viseme : this.mouth,
      eyes: this.eyesAt(nowMs),
      expression: this.expressionAt(nowMs),
      breath: (((nowMs % this.breathPeriod) + this.breathPeriod) % this.breathPeriod) / this.breathPeriod,
    };
  }
}
