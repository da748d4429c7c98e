import type { Bed } from './bed';

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
 * How far past the lead a line starting from idle is written at once. The encoder holds back
 * about this much audio before its first packet of it comes out (ffmpeg reads raw PCM in 40 ms
 * packets; resampling and AAC's look-ahead frames add the rest): written tick by tick, a line's
 * first sound waited ~90 ms in the encoder for the samples after it (~10 ms with the burst,
 * `scripts/bench-transport.ts`). The timeline stays exact: later ticks write nothing until the
 * clock has caught up with the burst.
 */
export const START_BURST_MS = 150;

/** The background bed and how loud it is: `level` in gaps, `duckLevel` under speech (linear gains). */
export interface BedMix {
  bed: Bed;
  level: number;
  duckLevel: number;
}

/**
 * Feeds the encoder a continuous mono 16-bit timeline in real time: every tick it writes exactly
 * the samples that are due (plus a small lead; a line starting from idle is written at once, with
 * a burst ahead, see START_BURST_MS), taken from the utterance being played, with the
 * background bed mixed under it (ducked while speech plays, full in the gaps), so the stream
 * never stops and is never silent by accident. Timing follows the monotonic clock,
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
    private bed?: BedMix,
    /** Receives the speech alone (no bed), as handed over, with its due time: what the avatar's mouth follows. */
    private readonly speechTap?: (speech: Buffer, dueAt: number) => void,
  ) {}

  /** Times the encoder ran out of audio because a tick came later than the lead (see idolcast_playout_underruns_total). */
  underruns = 0;

  /** Change the background bed on the fly (the watchdog's fallback, or a fault injected by a test). */
  setBed(bed: BedMix | undefined): void {
    this.bed = bed;
  }

  get hasBed(): boolean {
    return this.bed !== undefined;
  }

  /** Current bed gain, moving toward its target (quick down under speech, slow back up). */
  private bedGain = 0;

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
    const starts = this.idle && this.timer !== undefined;
    const airs = new Promise<AirTimes>((done) => this.queue.push({ pcm, offset: 0, startSample: -1, done, onStart }));
    // A line starting from idle goes to the encoder now, with a burst past the lead to push it through.
    if (starts) this.tick(Math.round((START_BURST_MS * this.sampleRate) / 1000));
    return airs;
  }

  /** Cut the current utterance short (it still resolves, with its real end). */
  skip(): void {
    if (this.playing) this.playing.offset = this.playing.pcm.length;
  }

  private mixBed(out: Buffer, speaking: Uint8Array): void {
    const { bed, level, duckLevel } = this.bed!;
    const samples = bed.next(speaking.length);
    const down = 1 / (0.05 * this.sampleRate); // full swing in 50 ms
    const up = 1 / (0.4 * this.sampleRate); // and back in 400 ms
    for (let i = 0; i < speaking.length; i++) {
      const target = speaking[i] ? duckLevel : level;
      const g = this.bedGain;
      this.bedGain = g > target ? Math.max(target, g - down * level) : Math.min(target, g + up * level);
      const v = out.readInt16LE(i * 2) + samples[i]! * this.bedGain * 32767;
      out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
    }
  }

  private wallAt(sample: number): number {
    return Math.round(this.epoch0 + (sample / this.sampleRate) * 1000);
  }

  /** Write what is due, plus `burst` samples ahead of it (a line starting). */
  private tick(burst = 0): void {
    const elapsedMs = performance.now() - this.t0 + this.leadMs;
    let due = Math.floor((elapsedMs * this.sampleRate) / 1000) - this.written;
    // More due than the lead covers: the encoder ran dry waiting for us (the event loop was late).
    if (due > (this.leadMs * this.sampleRate) / 1000) this.underruns++;
    // Never more than two bursts past the lead, however many short lines start in a row.
    if (burst) due = Math.min(Math.max(0, due) + burst, due + 2 * burst);
    if (due <= 0) return;
    const maxBurst = this.sampleRate * 5;
    if (due > maxBurst) {
      // The process stalled for seconds: do not flood the encoder; restart the clock from here.
      this.written += due - this.sampleRate;
      due = this.sampleRate;
    }
    const out = Buffer.alloc(due * 2); // zeroes: silence where no speech is due
    const speaking = this.bed ? new Uint8Array(due) : undefined;
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
      speaking?.fill(1, pos / 2, (pos + n) / 2);
      p.offset += n;
      pos += n;
      if (p.offset >= p.pcm.length) {
        const endSample = this.written + pos / 2;
        p.done({ startAt: this.wallAt(p.startSample), endAt: this.wallAt(endSample) });
        this.playing = undefined;
      }
    }
    const dueAt = this.wallAt(this.written);
    this.speechTap?.(out, dueAt); // before the bed goes under it: a bed in the gaps is not speech
    if (this.bed && speaking) this.mixBed(out, speaking);
    this.written += due;
    this.sink(out, dueAt);
  }
}
