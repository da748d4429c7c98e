import { UnrecoverableError } from 'bullmq';
import type { Payload } from '../queues/registry';
import { isAiLine } from '../queues/utterance.schema';
import { holdLine } from '../src/ai/delay';
import { toPlayoutPcm, trimTrailingSilence } from '../src/audio/pcm';
import { isConfigured } from '../src/config/names';
import type { Deps } from '../src/deps';
import { dropReason } from '../src/speech-drops';
import { SpeechStore } from '../src/speech-store';

/**
 * Encode one voiced part into the channel's playout format. The first part puts the line in the
 * playout queue; the broadcaster picks up later parts as they arrive.
 */
export async function handle(a: Payload<'audio'>, deps: Deps) {
  const { config, redis, keys, metrics } = deps;
  const rate = config.playout.sampleRate;
  const store = new SpeechStore(redis, keys, config);
  // No playout queue for a channel that is not configured (nothing would ever consume it).
  const dropped = isConfigured(config.channels, a.channel) ? await dropReason(a, redis, keys, config.degradation.shortTtlMs) : 'unknown channel';
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'audio', reason: dropped });
    await store.dropRaw(a.utteranceId, a.part);
    deps.log.info({ utteranceId: a.utteranceId, reason: dropped }, 'line dropped before encoding');
    return { dropped };
  }

  const raw = await store.readRaw(a.utteranceId, a.part);
  let bytes: number;
  if (raw) {
    const encoded = toPlayoutPcm(raw, a.format, rate);
    // The line's end goes without the engine's trailing silence (dead air the next line would wait
    // through); a pause between parts is the pause between the text's sentences, kept.
    const pcm = a.part === a.parts - 1 ? trimTrailingSilence(encoded, rate) : encoded;
    await store.putPlayout(a.utteranceId, a.part, pcm);
    bytes = pcm.length;
  } else {
    // A retry after the encode already happened: the playout copy is there.
    bytes = await store.playoutBytes(a.utteranceId, a.part);
    if (bytes === 0) throw new UnrecoverableError('speech audio is gone (expired before it was encoded)');
  }
  if (a.part === 0) return ready(a, store, deps, bytes);
  return { part: a.part, bytes };
}

/**
 * The first part is encoded: the line goes into the channel's playout queue, an AI line through
 * the broadcast delay (src/ai/delay.ts: a delayed job, due `ai.safety.delayMs` from now). A
 * channel whose delay is full drops the AI line rather than airing it sooner.
 */
async function ready(a: Payload<'audio'>, store: SpeechStore, deps: Deps, bytes: number) {
  const { config, queues, metrics, log } = deps;
  const { engine: _engine, format: _format, part: _part, ...utterance } = a;
  const wait = isAiLine(a) ? await holdLine(deps, a.channel, a.utteranceId) : 0;
  if (wait === 'full') {
    metrics.speechDropped.inc({ stage: 'audio', reason: 'delay full' });
    await store.dropPlayout(a.utteranceId, 1);
    log.warn({ utteranceId: a.utteranceId, channel: a.channel, most: config.ai.safety.delayMaxLines }, 'AI line dropped: the broadcast delay is full');
    return { dropped: 'delay full' };
  }
  await queues.enqueue('playout', { ...utterance, sampleRate: config.playout.sampleRate }, wait > 0 ? { delay: wait } : undefined);
  metrics.speechReady.observe({ channel: a.channel }, (Date.now() - a.acceptedAt) / 1000);
  await deps.publish(a.channel, { type: 'speech-ready', utteranceId: a.utteranceId, text: a.text });
  return { part: a.part, bytes, ...(wait > 0 && { heldMs: wait }) };
}
