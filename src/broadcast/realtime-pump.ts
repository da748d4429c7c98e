/** When one utterance is on air, in wall-clock ms since epoch. */
export interface AirTimes {
  startAt: number;
  endAt: number;
}

interface Playing {
  pcm: Buffer;
  offset: number;
  startSample: number;
  done: (t: AirTimes) => void;
  /** Called when its first sample is handed over, with the wall time it is due. */
  onStart?: (startAt: number) => void;
}

/**
 * Feeds the encoder a continuous mono 16-bit timeline in real time: every tick it writes exactly
 * the samples that are due (plus a small lead), taken from the utterance being played or
 * silence between utterances, so the stream never stops. Timing follows the monotonic clock,
 * not the tick count, so it does not drift however late the timer fires.
 */
export class RealtimePump {
  private timer?: NodeJS.Timeout;
  private t0 = 0;
  private epoch0 = 0;
  private written = 0;
  private playing?: Playing;
  private readonly queue: Playing[] = [];

  constructor(
    private readonly sampleRate: number,
    private readonly leadMs: number,
    /** Receives each chunk with the wall-clock time (ms) its first sample is due on air. */
    private readonly sink: (pcm: Buffer, dueAt: number) => void,
    private readonly tickMs = 20,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.epoch0 = Date.now();
    this.written = 0;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** True when nothing is playing or waiting. */
  get idle(): boolean {
    return !this.playing && this.queue.length === 0;
  }

  /** Queue speech; resolves with its on-air times once its last sample has been handed over. */
  play(pcm: Buffer, onStart?: (startAt: number) => void): Promise<AirTimes> {
    return new Promise((done) => this.queue.push({ pcm, offset: 0, startSample: -1, done, onStart }));
  }

  /** Cut the current utterance short (it still resolves, with its real end). */
  skip(): void {
    if (this.playing) this.playing.offset = this.playing.pcm.length;
  }

  private wallAt(sample: number): number {
    return Math.round(this.epoch0 + (sample / this.sampleRate) * 1000);
  }

  private tick(): void {
    const elapsedMs = performance.now() - this.t0 + this.leadMs;
    let due = Math.floor((elapsedMs * this.sampleRate) / 1000) - this.written;
    if (due <= 0) return;
    const maxBurst = this.sampleRate * 5;
    if (due > maxBurst) {
      // The process stalled for seconds: do not flood the encoder; restart the clock from here.
      this.written += due - this.sampleRate;
      due = this.sampleRate;
    }
    const out = Buffer.alloc(due * 2); // zeroes: silence where no speech is due
    let pos = 0;
    while (pos < out.length) {
      if (!this.playing) {
        const next = this.queue.shift();
        if (!next) break;
        next.startSample = this.written + pos / 2;
        this.playing = next;
        next.onStart?.(this.wallAt(next.startSample));
      }
      const p = this.playing;
      const n = Math.min(out.length - pos, p.pcm.length - p.offset);
      p.pcm.copy(out, pos, p.offset, p.offset + n);
      p.offset += n;
      pos += n;
      if (p.offset >= p.pcm.length) {
        const endSample = this.written + pos / 2;
        p.done({ startAt: this.wallAt(p.startSample), endAt: this.wallAt(endSample) });
        this.playing = undefined;
      }
    }
    const dueAt = this.wallAt(this.written);
    this.written += due;
    this.sink(out, dueAt);
  }
}
