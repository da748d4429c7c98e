import { UnrecoverableError } from 'bullmq';
import type { Payload } from '../queues/registry';
import { pcmDurationMs, toPlayoutPcm } from '../src/audio/pcm';
import type { Deps } from '../src/deps';
import { dropReason } from '../src/speech-drops';

/** Encode synthesised speech into the channel's playout format and queue it for air. */
export async function handle(a: Payload<'audio'>, deps: Deps) {
  const { config, redis, keys, queues, metrics } = deps;
  const rate = config.playout.sampleRate;
  const rawKey = keys.speechRaw(a.utteranceId);
  const pcmKey = keys.speechPcm(a.utteranceId);
  const dropped = await dropReason(a, redis, keys);
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'audio', reason: dropped });
    await redis.del(rawKey);
    deps.log.info({ utteranceId: a.utteranceId, reason: dropped }, 'line dropped before encoding');
    return { dropped };
  }

  const raw = await redis.getBuffer(rawKey);
  let bytes: number;
  if (raw) {
    const pcm = toPlayoutPcm(raw, a.format, rate);
    await redis.multi().set(pcmKey, pcm, 'PX', config.playout.audioTtlMs).del(rawKey).exec();
    bytes = pcm.length;
  } else {
    // A retry after the encode already happened: the playout copy is there, only queue it.
    bytes = await redis.strlen(pcmKey);
    if (bytes === 0) throw new UnrecoverableError('speech audio is gone (expired before it was encoded)');
  }

  const { engine: _engine, format: _format, ...utterance } = a;
  const durationMs = pcmDurationMs(bytes, rate);
  await queues.enqueue('playout', { ...utterance, durationMs, sampleRate: rate });
  metrics.speechReady.observe({ channel: a.channel }, (Date.now() - a.acceptedAt) / 1000);
  await deps.publish(a.channel, { type: 'speech-ready', utteranceId: a.utteranceId, text: a.text, durationMs });
  return { durationMs };
}
