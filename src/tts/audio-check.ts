import type { PcmFormat } from '../../queues/utterance.schema';
import { BadAudioError } from './remote-engines';

/**
 * Plausible speech for a text: bounds wide enough for any voice speed (normal speech is about
 * 65 ms per letter; an engine's fastest setting about a quarter of that, its slowest about four
 * times; a digit or symbol can become several words: "$1,234" is "one thousand…"), narrow enough
 * that a few stray bytes or a runaway reading are refused.
 */
const MIN_MS_PER_LETTER = 15;
const MAX_MS_PER_LETTER = 300;
const MAX_MS_PER_DIGIT_OR_SYMBOL = 700;
const MAX_EXTRA_MS = 2000;
/** Peak below this (about -60 dBFS) is silence, not speech. */
const SILENCE_PEAK = 32;

/** Seconds of audio in a PCM buffer. */
export function pcmSeconds(pcm: Buffer, format: PcmFormat): number {
  return pcm.length / 2 / format.channels / format.sampleRate;
}

function count(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

function peak(pcm: Buffer): number {
  let max = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) {
    const v = Math.abs(pcm.readInt16LE(i));
    if (v > max) max = v;
    if (max >= SILENCE_PEAK) break;
  }
  return max;
}

/**
 * Check engine audio before it is cached or aired: a sane format, whole frames, a duration
 * plausible for the text, and not all silence. Throws a BadAudioError naming the reason.
 */
export function checkSpeech(engine: string, pcm: Buffer, format: PcmFormat, text: string): void {
  const { sampleRate, channels } = format;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000 || (channels !== 1 && channels !== 2)) {
    throw new BadAudioError(`${engine}: unusable format (${sampleRate} Hz, ${channels} channels)`, 'format');
  }
  if (pcm.length % (2 * channels)) throw new BadAudioError(`${engine}: audio ends inside a frame (${pcm.length} bytes)`, 'format');
  const ms = pcmSeconds(pcm, format) * 1000;
  const letters = count(text, /\p{L}/gu);
  const others = count(text, /[^\p{L}\s]/gu);
  if (ms < Math.max(1, letters * MIN_MS_PER_LETTER)) throw new BadAudioError(`${engine}: ${ms.toFixed(1)} ms of audio for ${letters} letters`, 'too-short');
  if (ms > MAX_EXTRA_MS + letters * MAX_MS_PER_LETTER + others * MAX_MS_PER_DIGIT_OR_SYMBOL) {
    throw new BadAudioError(`${engine}: ${(ms / 1000).toFixed(1)} s of audio for ${letters} letters and ${others} other characters`, 'too-long');
  }
  if (peak(pcm) < SILENCE_PEAK) throw new BadAudioError(`${engine}: the audio is silence`, 'silence');
}

/**
 * The first `seconds` of PCM, ending in a short fade so the cut does not click. Returns the
 * input itself when it is already short enough.
 */
export function cutPcm(pcm: Buffer, format: PcmFormat, seconds: number): Buffer {
  const frame = 2 * format.channels;
  const frames = Math.max(0, Math.floor(seconds * format.sampleRate));
  if (frames * frame >= pcm.length) return pcm;
  const out = Buffer.from(pcm.subarray(0, frames * frame));
  const fade = Math.min(frames, Math.round(format.sampleRate * 0.02));
  for (let f = 0; f < fade; f++) {
    const gain = f / fade;
    for (let c = 0; c < format.channels; c++) {
      const at = (frames - 1 - f) * frame + c * 2;
      out.writeInt16LE(Math.round(out.readInt16LE(at) * gain), at);
    }
  }
  return out;
}
