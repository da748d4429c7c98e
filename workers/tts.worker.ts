import { UnrecoverableError } from 'bullmq';
import type { Payload } from '../queues/registry';
import type { Deps } from '../src/deps';
import { dropReason } from '../src/speech-drops';
import { collectSpeech } from '../src/tts/tts-engine';

/** Synthesise one utterance and hand the raw speech to the audio worker. */
export async function handle(u: Payload<'tts'>, deps: Deps) {
  const { config, redis, keys, queues, metrics, log } = deps;
  const dropped = await dropReason(u, redis, keys);
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'tts', reason: dropped });
    log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before synthesis');
    return { dropped };
  }
  let voice = config.voices[u.voice];
  if (!voice) {
    log.warn({ voice: u.voice, fallback: config.defaultVoice }, 'unknown voice: speaking with the default voice');
    voice = config.voices[config.defaultVoice]!;
  }
  const engine = deps.engines[voice.engine];
  if (!engine) throw new UnrecoverableError(`no engine "${voice.engine}" in this worker`);

  const started = performance.now();
  const speech = await engine.synthesize(u.text, voice);
  const pcm = await collectSpeech(speech);
  const tookMs = performance.now() - started;
  metrics.synthesis.observe({ engine: engine.name }, tookMs / 1000);
  if (pcm.length === 0) throw new UnrecoverableError(`${engine.name} returned no audio`);

  await redis.set(keys.speechRaw(u.utteranceId), pcm, 'PX', config.playout.audioTtlMs);
  await queues.enqueue('audio', { ...u, engine: engine.name, format: speech.format });
  return { engine: engine.name, bytes: pcm.length, synthesisMs: Math.round(tookMs) };
}
