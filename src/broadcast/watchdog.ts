import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

export type Fault = 'silence' | 'stalled';

/** What the watchdog can do about a fault, mildest first. */
export interface WatchdogActions {
  restartEncoder(): void;
  /** Switch to the fallback source (for silence: the generated bed). */
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
  /** No new segment for this long is a stalled stream. */
  stallMs: number;
  /** How long a step gets to fix the fault before the next one is taken. */
  stepMs: number;
  checkEveryMs: number;
}

/** RMS below this (about -60 dBFS) is silence. */
const SILENT_RMS = 0.001;

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
      for (const seg of this.newSegments()) {
        this.lastNewSegmentAt = Date.now();
        if (!this.opts.expectSound) continue;
        const level = await segmentLevel(path.join(this.liveDir, seg.file));
        if (level === undefined) continue; // deleted or unreadable already: skip it
        this.silentMs = level < SILENT_RMS ? this.silentMs + seg.seconds * 1000 : 0;
      }
      const fault: Fault | undefined =
        Date.now() - this.lastNewSegmentAt > this.opts.stallMs ? 'stalled' : this.silentMs >= this.opts.silenceMs ? 'silence' : undefined;
      this.escalate(fault);
    } finally {
      this.busy = false;
    }
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
    if (!this.active || this.active.fault !== fault) {
      this.active = { fault, since: now, step: 0, stepAt: now };
      this.log.warn({ fault, silentMs: this.silentMs, sinceLastSegmentMs: now - this.lastNewSegmentAt }, 'watchdog: fault');
      return this.take(0);
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
    if (name === 'restart-encoder') {
      this.lastNewSegmentAt = Date.now(); // give the new encoder its time
      this.actions.restartEncoder();
    } else if (name === 'fallback') this.actions.fallback(a.fault);
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

/** RMS level of a segment's audio (mono 8 kHz is plenty), or undefined when it cannot be read. */
function segmentLevel(file: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const ff = spawn('ffmpeg', ['-loglevel', 'error', '-i', file, '-vn', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    ff.stdout.on('data', (d: Buffer) => chunks.push(d));
    ff.on('error', () => resolve(undefined));
    ff.on('close', (code) => {
      const pcm = Buffer.concat(chunks);
      if (code !== 0 || pcm.length < 2) return resolve(undefined);
      let sum = 0;
      for (let i = 0; i + 1 < pcm.length; i += 2) sum += (pcm.readInt16LE(i) / 32768) ** 2;
      resolve(Math.sqrt(sum / (pcm.length / 2)));
    });
  });
}
