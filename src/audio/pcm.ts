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
