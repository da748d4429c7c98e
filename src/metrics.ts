import client, { Registry } from 'prom-client';

/**
 * Metrics of one process. Every fleet member publishes its registry to Redis with its heartbeat
 * (see fleet.ts) and the control server merges them into one /metrics page, so Prometheus needs
 * one scrape target however many replicas run.
 */
export function createMetrics(kind: string, instance: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ kind, instance });
  client.collectDefaultMetrics({ register: registry, prefix: 'idolcast_' });

  const jobDuration = new client.Histogram({
    name: 'idolcast_job_duration_seconds',
    help: 'Time a worker spent processing a job, by queue and outcome',
    labelNames: ['queue', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const speechReady = new client.Histogram({
    name: 'idolcast_chat_to_speech_ready_seconds',
    help: 'From accepting a chat message or say to its speech waiting in the playout',
    labelNames: ['channel'] as const,
    buckets: [0.005, 0.01, 0.015, 0.025, 0.04, 0.06, 0.08, 0.12, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const synthesis = new client.Histogram({
    name: 'idolcast_tts_synthesis_seconds',
    help: 'Time an engine took to synthesise one utterance',
    labelNames: ['engine'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const chatDecisions = new client.Counter({
    name: 'idolcast_chat_decisions_total',
    help: 'What the command processor did with each chat event',
    labelNames: ['platform', 'decision'] as const,
    registers: [registry],
  });
  const onAir = new client.Counter({
    name: 'idolcast_utterances_aired_total',
    help: 'Utterances played out on air, by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
  });
  const encoderRestarts = new client.Counter({
    name: 'idolcast_encoder_restarts_total',
    help: 'Times the broadcast encoder (ffmpeg) was restarted',
    labelNames: ['channel'] as const,
    registers: [registry],
  });
  const sourceConnected = new client.Gauge({
    name: 'idolcast_chat_source_connected',
    help: 'Whether a chat source is connected (1) or not (0), by platform and room',
    labelNames: ['platform', 'room'] as const,
    registers: [registry],
  });
  const sourceReconnects = new client.Counter({
    name: 'idolcast_chat_source_reconnects_total',
    help: 'Reconnects of chat sources, by platform',
    labelNames: ['platform'] as const,
    registers: [registry],
  });
  const speechDropped = new client.Counter({
    name: 'idolcast_speech_dropped_total',
    help: 'Lines dropped instead of spoken: stale (waited past their time-to-live) or cleared by a moderator',
    labelNames: ['stage', 'reason'] as const,
    registers: [registry],
  });
  const breakerState = new client.Gauge({ name: 'idolcast_tts_breaker_state', help: 'Breaker of each remote TTS engine: 0 closed, 1 half-open, 2 open', labelNames: ['engine'] as const, registers: [registry] });
  const spoken = new client.Counter({ name: 'idolcast_tts_spoken_total', help: 'Parts of lines voiced, by the engine and voice that actually spoke', labelNames: ['engine', 'voice'] as const, registers: [registry] });
  const fallbacks = new client.Counter({ name: 'idolcast_tts_fallbacks_total', help: 'Times a voice failed and the next in its chain was tried, by the failing engine', labelNames: ['engine'] as const, registers: [registry] });
  const ttsCache = new client.Counter({ name: 'idolcast_tts_cache_total', help: 'Speech cache lookups', labelNames: ['result'] as const, registers: [registry] });
  const timeToFirstAudio = new client.Histogram({
    name: 'idolcast_tts_time_to_first_audio_seconds',
    help: 'From a tts job starting to its first part voiced, by engine',
    labelNames: ['engine'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const realTimeFactor = new client.Histogram({
    name: 'idolcast_tts_real_time_factor',
    help: 'Synthesis time divided by the audio duration, by engine (below 1: faster than real time)',
    labelNames: ['engine'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  return { registry, breakerState, spoken, fallbacks, ttsCache, timeToFirstAudio, realTimeFactor, speechDropped, sourceConnected, sourceReconnects, jobDuration, speechReady, synthesis, chatDecisions, onAir, encoderRestarts };
}
export type Metrics = ReturnType<typeof createMetrics>;
