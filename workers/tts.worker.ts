import type { Payload } from '../queues/registry';
import { cheaperVoice, sharedLevel } from '../src/degradation';
import { isConfigured } from '../src/config/names';
import type { Deps } from '../src/deps';
import { dropReason } from '../src/speech-drops';
import { SpeechStore } from '../src/speech-store';
import { cutPcm, pcmSeconds } from '../src/tts/audio-check';
import { cutToSeconds, withoutStackedMarks } from '../src/tts/speakable';
import { prepareText, splitForSpeech, stripEngineMarkup } from '../src/tts/text';

/** A part past the line's limit is handed over as this much silence, so the broadcaster ends the line at once. */
const SILENT_PART_SECONDS = 0.02;

/** Text as engines get it: stacked marks gone, tidied, cut to what `tts.maxLineSeconds` allows; then its parts. */
function partsOf(u: Payload<'tts'>, deps: Deps): string[] {
  const { config, log } = deps;
  // Every source (operator, routine, chat) loses engine markup and stacked marks before any engine sees it.
  const clean = withoutStackedMarks(stripEngineMarkup(u.text));
  const text = prepareText(clean, { maxLength: config.tts.maxTextLength, lexicon: config.tts.lexicon }) || clean.trim();
  if (!text) return [];
  const limited = cutToSeconds(text, config.tts.maxLineSeconds);
  if (limited.cut) log.info({ utteranceId: u.utteranceId, chars: text.length, kept: limited.text.length, maxLineSeconds: config.tts.maxLineSeconds }, 'line longer than tts.maxLineSeconds: cut at a sentence boundary');
  return splitForSpeech(limited.text, config.tts.firstPartMaxChars);
}

/** Seconds a part already handed over (by an earlier attempt) speaks; raw engine audio is counted at the playout rate. */
async function handedOverSeconds(u: Payload<'tts'>, part: number, deps: Deps): Promise<number | undefined> {
  const bytes = await new SpeechStore(deps.redis, deps.keys, deps.config).handedOverBytes(u.utteranceId, part);
  return bytes ? bytes / 2 / deps.config.playout.sampleRate : undefined;
}

/**
 * Voice one line, part by part: each part goes to the audio worker as soon as it is voiced, so
 * the first audio does not wait for the rest of a long line. A retried job skips the parts it
 * already handed over. The line's audio is cut at `tts.maxLineSeconds`; parts past it are handed
 * over as a moment of silence (the broadcaster expects every part). When the fleet is degraded,
 * plain chat waits less (level 2) and chat lines are voiced by their cheaper voice (level 3);
 * paid, moderator, operator and routine lines are not.
 */
export async function handle(u: Payload<'tts'>, deps: Deps) {
  const { config, redis, keys, queues, metrics, log } = deps;
  // Payloads name their channel and voice freely (the schema cannot know the config): a channel
  // that is not configured has no playout, so its line is dropped, not parked on a queue forever.
  if (!isConfigured(config.channels, u.channel)) {
    metrics.speechDropped.inc({ stage: 'tts', reason: 'unknown channel' });
    log.warn({ utteranceId: u.utteranceId, channel: u.channel.slice(0, 32) }, 'line dropped: no such channel');
    return { dropped: 'unknown channel' };
  }
  const asked = isConfigured(config.voices, u.voice) ? u.voice : config.defaultVoice;
  if (asked !== u.voice) log.warn({ utteranceId: u.utteranceId, voice: u.voice.slice(0, 32), instead: asked }, 'no such voice: the default voice speaks this line');
  const level = await sharedLevel(redis, keys);
  const parts = partsOf(u, deps);
  const dropped = (await dropReason(u, redis, keys, config.degradation.shortTtlMs)) ?? (parts.length ? undefined : 'empty');
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'tts', reason: dropped });
    log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before synthesis');
    return { dropped };
  }
  const voice = level >= 3 && u.degradable ? cheaperVoice(config, asked) : asked;
  if (voice !== asked) {
    metrics.cheaperVoice.inc({ voice: asked, cheaper: voice });
    log.info({ utteranceId: u.utteranceId, voice: asked, cheaper: voice, degradationLevel: level }, 'degraded: a cheaper voice speaks this line');
  }
  const store = new SpeechStore(redis, keys, config);
  const started = performance.now();
  const spokeWith: string[] = [];
  let left = config.tts.maxLineSeconds;
  for (const [part, words] of parts.entries()) {
    // A retry (or a job taken over from a killed worker) skips the parts already handed over.
    const done = deps.attempt > 1 ? await handedOverSeconds(u, part, deps) : undefined;
    if (done !== undefined) {
      left -= done;
      continue;
    }
    const voiced = await voicePart(u, part, words, voice, left, deps);
    if (part === 0) metrics.timeToFirstAudio.observe({ engine: voiced.engine }, (performance.now() - started) / 1000);
    left -= pcmSeconds(voiced.pcm, voiced.format);
    spokeWith.push(voiced.voice);
    await store.putRaw(u.utteranceId, part, voiced.pcm);
    await queues.enqueue('audio', { ...u, part, parts: parts.length, engine: voiced.engine, format: voiced.format });
  }
  metrics.lineSynthesis.observe((performance.now() - started) / 1000);
  return { parts: parts.length, voices: spokeWith };
}

/** One part voiced and cut to the seconds the line has left; with none left, a moment of silence and no synthesis. */
async function voicePart(u: Payload<'tts'>, part: number, words: string, voice: string, left: number, deps: Deps) {
  const { config, log } = deps;
  if (left <= 0) {
    const format = { sampleRate: config.playout.sampleRate, channels: 1 };
    return { pcm: Buffer.alloc(Math.round(format.sampleRate * SILENT_PART_SECONDS) * 2), format, voice: 'none', engine: 'none' };
  }
  const voiced = await deps.speech.speakPart(words, voice, log);
  const pcm = cutPcm(voiced.pcm, voiced.format, left);
  if (pcm !== voiced.pcm) log.info({ utteranceId: u.utteranceId, part, maxLineSeconds: config.tts.maxLineSeconds }, 'line reached tts.maxLineSeconds: its audio is cut');
  return { ...voiced, pcm };
}
