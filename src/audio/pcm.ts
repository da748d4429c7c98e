import { resample } from 'wave-resampler';
import type { PcmFormat } from '../../queues/utterance.schema';

/** Bytes per second of the playout format (mono, 16-bit). */
export const bytesPerMs = (sampleRate: number) => (sampleRate * 2) / 1000;

/** Duration of mono 16-bit PCM in ms. */
export function pcmDurationMs(bytes: number, sampleRate: number): number {
  return Math.round(bytes / bytesPerMs(sampleRate));
}

/**
 * Convert engine PCM (16-bit LE, any rate, mono or stereo) to the playout format: mono 16-bit
 * at `targetRate`. Cubic interpolation keeps this a few ms for a sentence, so it stays off the
 * latency budget that an ffmpeg spawn per utterance would eat; downsampling adds a low-pass
 * filter against aliasing.
 */
export function toPlayoutPcm(pcm: Buffer, format: PcmFormat, targetRate: number): Buffer {
  const frames = Math.floor(pcm.length / (2 * format.channels));
  // Copy into an aligned Int16Array (a Buffer from Redis may start at an odd offset); little-endian host assumed, as everywhere Node runs.
  const samples = new Int16Array(frames * format.channels);
  Buffer.from(samples.buffer).set(pcm.subarray(0, samples.byteLength));
  let mono = samples;
  if (format.channels > 1) {
    mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < format.channels; c++) sum += samples[i * format.channels + c]!;
      mono[i] = Math.round(sum / format.channels);
    }
  }
  if (format.sampleRate === targetRate) return Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength);
  const out = resample(mono, format.sampleRate, targetRate, { method: 'cubic', LPF: targetRate < format.sampleRate });
  // Int16Array assignment truncates and wraps: clamp and round first.
  const res = new Int16Array(out.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(out[i] ?? 0);
    res[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return Buffer.from(res.buffer);
}

/** A line's end counts as silent below this share of the line's own peak (40 dB down), whatever the engine's loudness. */
const SILENT_SHARE_OF_PEAK = 0.01;
/** What is kept of a line's end after its last sound: the last phoneme's decay, faded out, and a breath before the next line. */
export const LINE_TAIL_MS = 80;

/**
 * A line's last part without the engine's trailing silence: espeak-ng ends every line with
 * ~330 ms of it (cloud engines with as much or more). Aired, it is dead air that every line
 * queued behind waits through, since the playout takes the next line only once this one's audio
 * is out. Everything after the last sample within 40 dB of the line's peak is cut to
 * LINE_TAIL_MS, faded to zero so the cut never clicks. Mono 16-bit in, a new buffer out (or the
 * same one when there is nothing to cut: all silence, or a short tail already).
 */
export function trimTrailingSilence(pcm: Buffer, sampleRate: number): Buffer {
  const n = Math.floor(pcm.length / 2);
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i * 2)));
  if (peak === 0) return pcm;
  const floor = peak * SILENT_SHARE_OF_PEAK;
  let last = n - 1;
  while (last > 0 && Math.abs(pcm.readInt16LE(last * 2)) <= floor) last--;
  const tail = Math.round((LINE_TAIL_MS * sampleRate) / 1000);
  const keep = last + 1 + tail;
  if (keep >= n) return pcm;
  const out = Buffer.from(pcm.subarray(0, keep * 2));
  for (let i = 1; i <= tail; i++) {
    const at = (last + i) * 2;
    out.writeInt16LE(Math.round(out.readInt16LE(at) * (1 - i / tail)), at);
  }
  return out;
}

/** Root-mean-square level of 16-bit mono PCM, 0 … 1. */
export function rms(pcm: Buffer): number {
  const n = Math.floor(pcm.length / 2);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE(i * 2) / 32768;
    sum += s * s;
  }
  return Math.sqrt(sum / n);
}
