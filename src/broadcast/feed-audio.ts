import type { Logger } from '../logger';
import type { Bed } from './bed';
import { runFfmpeg, type FfmpegProcess } from './ffmpeg-process';
import { feedInput } from './video-feed';

/** Sound buffered before the feed's audio is played (absorbs the bursts packets arrive in). */
const JITTER_MS = 200;
/** More than this buffered (the feed's clock runs fast, or a burst after a stall): the oldest is dropped. */
const MAX_BUFFER_MS = 1000;

/**
 * The external feed's own sound (OBS's game, music, microphone), decoded to mono PCM by an ffmpeg
 * of its own and played under the idol's speech in place of the bed. Its own reader, apart from
 * the picture's: a feed without sound never holds up the picture. While the feed's sound is
 * missing (no audio track, the feed gone, a gap), the fallback bed plays instead, so the stream is
 * never silent by accident.
 */
export class FeedAudio implements Bed {
  private proc?: FfmpegProcess;
  private stopped = false;
  private delayMs = 500;
  private chunks: Int16Array[] = [];
  private buffered = 0;
  private head = 0;
  private playing = false;
  /** Samples of the feed played, for metrics and tests. */
  played = 0;

  constructor(
    private readonly url: string,
    private readonly sampleRate: number,
    /** What plays while the feed has no sound, already scaled relative to the feed's level; none: silence. */
    private readonly fallback: ((n: number) => Float32Array) | undefined,
    private readonly log: Logger,
  ) {}

  start(): void {
    const args = [...feedInput(this.url), '-vn', '-map', '0:a:0', '-ac', '1', '-ar', String(this.sampleRate), '-f', 's16le', 'pipe:1'];
    const proc = runFfmpeg({ role: 'feed sound reader', args, log: this.log, stdout: true });
    this.proc = proc;
    let odd: Buffer | undefined;
    proc.stdout!.on('data', (d: Buffer) => {
      const bytes = odd ? Buffer.concat([odd, d]) : d;
      const whole = bytes.length - (bytes.length % 2);
      odd = whole < bytes.length ? bytes.subarray(whole) : undefined;
      // Copied out: the stream's buffer may not be aligned for an Int16Array view.
      const samples = new Int16Array(whole / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      this.push(samples);
      this.delayMs = 500;
    });
    void proc.exited.then(() => {
      if (this.stopped || proc !== this.proc) return;
      // No sound track, or the feed is gone: retry, slower each time (a silent feed is normal).
      setTimeout(() => !this.stopped && this.start(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 10_000);
    });
  }

  private push(samples: Int16Array): void {
    if (!samples.length) return;
    this.chunks.push(samples);
    this.buffered += samples.length;
    const max = (this.sampleRate * MAX_BUFFER_MS) / 1000;
    while (this.buffered > max) this.skip(this.buffered - (this.sampleRate * JITTER_MS) / 1000);
  }

  /** Drop `n` of the oldest buffered samples. */
  private skip(n: number): void {
    while (n > 0 && this.chunks.length) {
      const c = this.chunks[0]!;
      const take = Math.min(n, c.length - this.head);
      this.head += take;
      this.buffered -= take;
      n -= take;
      if (this.head >= c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
  }

  next(n: number): Float32Array {
    if (!this.playing && this.buffered >= (this.sampleRate * JITTER_MS) / 1000) {
      this.playing = true;
      this.log.info({ source: 'feed' }, 'feed sound on air');
    }
    if (!this.playing || this.buffered < n) {
      if (this.playing) {
        this.playing = false; // ran dry: fill the jitter buffer again
        this.log.warn({ source: 'feed' }, 'feed sound gone: the bed plays');
      }
      return this.fallback?.(n) ?? new Float32Array(n);
    }
    const out = new Float32Array(n);
    let k = 0;
    while (k < n) {
      const c = this.chunks[0]!;
      const take = Math.min(n - k, c.length - this.head);
      for (let i = 0; i < take; i++) out[k + i] = c[this.head + i]! / 32768;
      k += take;
      this.head += take;
      if (this.head >= c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.buffered -= n;
    this.played += n;
    return out;
  }

  stop(): void {
    this.stopped = true;
    this.proc?.kill();
  }
}
