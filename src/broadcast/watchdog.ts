import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { ffmpegOutput } from './ffmpeg-process';

export type Fault = 'silence' | 'stalled' | 'black' | 'frozen';

/** What the watchdog can do about a fault, mildest first. */
export interface WatchdogActions {
  restartEncoder(): void;
  /** When the encoder's current run started; undefined while it is down (restarting). */
  encoderRunningSince(): number | undefined;
  /** Switch to the fallback source (silence: the generated bed; a black or frozen picture: the slate). */
  fallback(fault: Fault): void;
  /** Tell a human: a log line at error level and a metric. */
  alert(fault: Fault, on: boolean): void;
  /** Every step it takes, for metrics. */
  acted(fault: Fault, step: Step): void;
}

const STEPS = ['restart-encoder', 'fallback', 'alert'] as const;
export type Step = (typeof STEPS)[number];

export interface WatchdogOptions {
  /** The playout is meant to carry sound all the time (a bed is configured): silence is a fault. */
  expectSound: boolean;
  /** Silence longer than this is a fault. */
  silenceMs: number;
  /** No new segment for this long is a stalled stream (a fresh encoder run gets twice as long for its first). */
  stallMs: number;
  /** How long a step gets to fix the fault before the next one is taken. */
  stepMs: number;
  checkEveryMs: number;
  /** Picture checks; none for a channel whose picture may legitimately be black and still. */
  picture?: {
    /** A black picture longer than this is a fault (0: never), while `expectPicture()` says it should not be. */
    blackMs: number;
    /** The very same picture longer than this is a fault (0: never), while `expectMotion()` says it should move. */
    frozenMs: number;
    expectPicture: () => boolean;
    expectMotion: () => boolean;
  };
}

/** RMS below this (about -60 dBFS) is silence. */
const SILENT_RMS = 0.001;
/** Thumbnails the picture checks look at: tiny grey frames, a few per second. */
const THUMB = { width: 32, height: 18, fps: 4 };
/** No thumbnail pixel brighter than this (limited-range luma: black is 16): a black picture. */
const BLACK_MAX_LUMA = 40;
/** Mean absolute difference of the upper two thirds (captions live below) under this: the same picture. */
const SAME_PICTURE_DIFF = 1;

/**
 * Watches what viewers get: the channel's own HLS output, segment by segment. Silence beyond the
 * intended gaps (when a bed should always be heard) or a stream whose segments stop coming is a
 * fault, and the watchdog escalates one step at a time until it clears: restart the encoder, then
 * switch to the fallback source, then alert. Each step is logged and counted.
 */
export class Watchdog {
  private timer?: NodeJS.Timeout;
  private seen = new Set<string>();
  private lastNewSegmentAt = Date.now();
  private silentMs = 0;
  private blackMs = 0;
  private frozenMs = 0;
  private lastThumb?: Buffer;
  private active?: { fault: Fault; since: number; step: number; stepAt: number };
  private busy = false;

  constructor(
    private readonly liveDir: string,
    private readonly opts: WatchdogOptions,
    private readonly actions: WatchdogActions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.lastNewSegmentAt = Date.now();
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const picture = this.opts.picture;
      for (const seg of this.newSegments()) {
        this.lastNewSegmentAt = Date.now();
        if (!this.opts.expectSound && !picture) continue;
        const signals = await segmentSignals(path.join(this.liveDir, seg.file), !!picture, this.log);
        if (!signals) continue; // deleted or unreadable already: skip it
        const ms = seg.seconds * 1000;
        if (this.opts.expectSound) this.silentMs = signals.rms < SILENT_RMS ? this.silentMs + ms : 0;
        if (picture && signals.thumbs.length) {
          const black = signals.thumbs.every((t) => t.every((v) => v < BLACK_MAX_LUMA));
          this.blackMs = black && picture.expectPicture() ? this.blackMs + ms : 0;
          let same = true;
          for (const t of signals.thumbs) {
            same &&= this.lastThumb !== undefined && sameTopPicture(this.lastThumb, t);
            this.lastThumb = t;
          }
          this.frozenMs = same && !black && picture.expectMotion() ? this.frozenMs + ms : 0;
        }
      }
      const fault: Fault | undefined =
        this.stalledForMs() > this.opts.stallMs
          ? 'stalled'
          : this.silentMs >= this.opts.silenceMs
            ? 'silence'
            : picture && picture.blackMs > 0 && this.blackMs >= picture.blackMs
              ? 'black'
              : picture && picture.frozenMs > 0 && this.frozenMs >= picture.frozenMs
                ? 'frozen'
                : undefined;
      this.escalate(fault);
    } catch (err) {
      // Fire-and-forget from the interval: a throwing action must not take the broadcaster down.
      this.log.error({ err: (err as Error).message }, 'watchdog check failed: the next one runs as usual');
    } finally {
      this.busy = false;
    }
  }

  /**
   * How long no new segment has come. A run that just started (after a restart) is given
   * `stallMs` more for its first segment: starting ffmpeg and filling a segment takes seconds on a
   * loaded machine, and killing it again for that would never let it finish one.
   */
  private stalledForMs(): number {
    const now = Date.now();
    const since = this.actions.encoderRunningSince();
    const graceUntil = since === undefined ? 0 : since + this.opts.stallMs;
    return now - Math.max(this.lastNewSegmentAt, Math.min(graceUntil, now));
  }

  private escalate(fault: Fault | undefined): void {
    const now = Date.now();
    if (!fault) {
      if (this.active) {
        this.log.info({ fault: this.active.fault, lastedMs: now - this.active.since, steps: STEPS.slice(0, this.active.step + 1) }, 'watchdog: recovered');
        if (this.active.step >= 2) this.actions.alert(this.active.fault, false);
        this.active = undefined;
      }
      return;
    }
    const detail = { silentMs: this.silentMs, blackMs: this.blackMs, frozenMs: this.frozenMs, sinceLastSegmentMs: now - this.lastNewSegmentAt };
    if (!this.active) {
      this.active = { fault, since: now, step: 0, stepAt: now };
      this.log.warn({ fault, ...detail }, 'watchdog: fault');
      return this.take(0);
    }
    if (this.active.fault !== fault) {
      // Still unhealthy, in another way (a frozen feed, then the restarted encoder slow to start):
      // one episode, so the ladder goes on instead of restarting the encoder forever.
      this.log.warn({ fault, was: this.active.fault, step: STEPS[this.active.step], ...detail }, 'watchdog: fault');
      if (this.active.step >= 2) {
        this.actions.alert(this.active.fault, false);
        this.actions.alert(fault, true);
      }
      this.active.fault = fault;
    }
    if (this.active.step < STEPS.length - 1 && now - this.active.stepAt >= this.opts.stepMs) this.take(this.active.step + 1);
  }

  private take(step: number): void {
    const a = this.active!;
    a.step = step;
    a.stepAt = Date.now();
    const name = STEPS[step]!;
    this.log.warn({ fault: a.fault, step: name }, 'watchdog: acting');
    this.actions.acted(a.fault, name);
    if (name === 'restart-encoder') this.actions.restartEncoder(); // the new run's first-segment grace gives it its time
    else if (name === 'fallback') this.actions.fallback(a.fault);
    else {
      this.log.error({ fault: a.fault, sinceMs: Date.now() - a.since }, 'watchdog: alert: the stream is still faulty after restarting and falling back');
      this.actions.alert(a.fault, true);
    }
  }

  /** Segments listed in the playlist not looked at yet (ffmpeg lists a segment once it is complete). */
  private newSegments(): { file: string; seconds: number }[] {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.liveDir, 'index.m3u8'), 'utf8');
    } catch {
      return [];
    }
    const out: { file: string; seconds: number }[] = [];
    const re = /#EXTINF:([\d.]+),[^\n]*\n(?:#[^\n]*\n)*([^#\s][^\n]*\.ts)/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (this.seen.has(m[2]!)) continue;
      this.seen.add(m[2]!);
      out.push({ file: m[2]!, seconds: Number(m[1]) });
    }
    if (this.seen.size > 1000) this.seen = new Set([...this.seen].slice(-100));
    return out;
  }
}

/** The upper two thirds of two thumbnails are (nearly) the same picture. */
function sameTopPicture(a: Buffer, b: Buffer): boolean {
  const n = Math.floor((THUMB.height * 2) / 3) * THUMB.width;
  let diff = 0;
  for (let i = 0; i < n; i++) diff += Math.abs(a[i]! - b[i]!);
  return diff / n < SAME_PICTURE_DIFF;
}

/**
 * One ffmpeg pass over a segment: the RMS level of its audio (mono 8 kHz is plenty) and, when
 * asked, grey thumbnails of its picture a few times a second (on a second pipe). Undefined when
 * the segment cannot be read (deleted already).
 */
async function segmentSignals(file: string, withPicture: boolean, log: Logger): Promise<{ rms: number; thumbs: Buffer[] } | undefined> {
  const args = ['-loglevel', 'error', '-i', file, '-map', '0:a', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1'];
  if (withPicture) args.push('-map', '0:v', '-vf', `fps=${THUMB.fps},scale=${THUMB.width}:${THUMB.height},format=gray`, '-f', 'rawvideo', 'pipe:3');
  const { exit, stdout: pcm, pipes } = await ffmpegOutput({ role: 'watchdog probe', args, log, extraPipes: 1 });
  if (exit.code !== 0 || pcm.length < 2) return undefined;
  let sum = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) sum += (pcm.readInt16LE(i) / 32768) ** 2;
  const frames = pipes[0]!;
  const size = THUMB.width * THUMB.height;
  const thumbs = Array.from({ length: Math.floor(frames.length / size) }, (_, i) => frames.subarray(i * size, (i + 1) * size));
  return { rms: Math.sqrt(sum / (pcm.length / 2)), thumbs };
}
