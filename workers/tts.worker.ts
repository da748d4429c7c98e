import type { Payload } from '../queues/registry';
import { cheaperVoice, sharedLevel } from '../src/degradation';
import type { Deps } from '../src/deps';
import { dropReason } from '../src/speech-drops';
import { prepareText, splitForSpeech } from '../src/tts/text';

/**
 * Voice one line, part by part: each part goes to the audio worker as soon as it is voiced, so
 * the first audio does not wait for the rest of a long line. A retried job skips the parts it
 * already handed over. When the fleet is degraded, plain chat waits less (level 2) and chat lines
 * are voiced by their cheaper voice (level 3); paid, moderator, operator and routine lines are not.
 */
export async function handle(u: Payload<'tts'>, deps: Deps) {
  const { config, redis, keys, queues, metrics, log, speech } = deps;
  const level = await sharedLevel(redis, keys);
  const dropped = await dropReason(u, redis, keys, config.degradation.shortTtlMs);
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'tts', reason: dropped });
    log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before synthesis');
    return { dropped };
  }
  const voice = level >= 3 && u.degradable ? cheaperVoice(config, u.voice) : u.voice;
  if (voice !== u.voice) {
    metrics.cheaperVoice.inc({ voice: u.voice, cheaper: voice });
    log.info({ utteranceId: u.utteranceId, voice: u.voice, cheaper: voice, degradationLevel: level }, 'degraded: a cheaper voice speaks this line');
  }
  const text = prepareText(u.text, { maxLength: config.tts.maxTextLength, lexicon: config.tts.lexicon });
  const parts = splitForSpeech(text || u.text, config.tts.firstPartMaxChars);
  const started = performance.now();
  const spokeWith: string[] = [];
  for (const [part, words] of parts.entries()) {
    // A retry (or a job taken over from a killed worker) skips the parts already handed over.
    if (deps.attempt > 1) {
      if (await redis.exists(keys.speechRaw(u.utteranceId, part), keys.speechPcm(u.utteranceId, part))) continue;
    }
    const voiced = await speech.speakPart(words, voice, log);
    if (part === 0) metrics.timeToFirstAudio.observe({ engine: voiced.engine }, (performance.now() - started) / 1000);
    spokeWith.push(voiced.voice);
    await redis.set(keys.speechRaw(u.utteranceId, part), voiced.pcm, 'PX', config.playout.audioTtlMs);
    await queues.enqueue('audio', { ...u, part, parts: parts.length, engine: voiced.engine, format: voiced.format });
  }
  metrics.lineSynthesis.observe((performance.now() - started) / 1000);
  return { parts: parts.length, voices: spokeWith };
}
