import type { Logger } from '../logger';
import { ffmpegOutput } from './ffmpeg-process';

/** Background sound under the playout: fills every gap so the stream is never silent by accident. */
export interface Bed {
  /** The next `n` samples of the bed, as floats in [-1, 1]. */
  next(n: number): Float32Array;
}

/**
 * A soft generated pad (an A-major chord with a slow swell), computed from the sample index, so
 * it loops forever without a seam and needs no file.
 */
export class GeneratedBed implements Bed {
  private i = 0;
  private static readonly NOTES = [110, 164.81, 220, 277.18];

  constructor(private readonly sampleRate: number) {}

  next(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++, this.i++) {
      const t = this.i / this.sampleRate;
      let v = 0;
      for (const f of GeneratedBed.NOTES) v += Math.sin(2 * Math.PI * f * t);
      // A swell every 10 s, never down to nothing.
      out[k] = (v / GeneratedBed.NOTES.length) * (0.7 + 0.3 * Math.sin((2 * Math.PI * t) / 10));
    }
    if (this.i > this.sampleRate * 3600 * 10) this.i -= this.sampleRate * 3600 * 10; // 10 h is a whole number of swells: keeps t small
    return out;
  }
}

/** An audio file from the config, decoded once and looped. */
export class LoopedBed implements Bed {
  private pos = 0;

  constructor(private readonly samples: Int16Array) {}

  next(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      out[k] = this.samples[this.pos]! / 32768;
      this.pos = (this.pos + 1) % this.samples.length;
    }
    return out;
  }
}

/** Decode an audio file to mono 16-bit PCM at `sampleRate` with ffmpeg (at most `maxSeconds` of it). */
export async function decodeBed(file: string, sampleRate: number, log: Logger, maxSeconds = 600): Promise<Int16Array> {
  const args = ['-loglevel', 'error', '-i', file, '-t', String(maxSeconds), '-ac', '1', '-ar', String(sampleRate), '-f', 's16le', 'pipe:1'];
  const { exit, stdout: pcm } = await ffmpegOutput({ role: 'bed decode', args, log });
  if (exit.error) throw exit.error;
  if (exit.code !== 0 || pcm.length < sampleRate * 2) {
    throw new Error(`cannot use ${file} as the background bed: ${exit.said.slice(0, 300) || 'too short'}`);
  }
  return new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
}
