import client, { Registry } from 'prom-client';

const SECONDS_FAST = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SECONDS_LATENCY = [0.005, 0.01, 0.015, 0.025, 0.04, 0.06, 0.08, 0.12, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Metrics of one process. Every fleet member publishes its registry to Redis with its heartbeat
 * (see fleet.ts) and the control server merges them into one /metrics page, so Prometheus needs
 * one scrape target however many replicas run.
 */
export function createMetrics(kind: string, instance: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ kind, instance });
  client.collectDefaultMetrics({ register: registry, prefix: 'idolcast_' });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new client.Counter({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new client.Gauge({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) => new client.Histogram({ name, help, labelNames, buckets, registers });

  return {
    registry,
    // Workers and the command processor.
    jobDuration: histogram('idolcast_job_duration_seconds', 'Time a worker spent processing a job, by queue and outcome', ['queue', 'status'], SECONDS_FAST),
    speechReady: histogram('idolcast_chat_to_speech_ready_seconds', 'From accepting a chat message or say to its speech waiting in the playout', ['channel'], SECONDS_LATENCY),
    chatDecisions: counter('idolcast_chat_decisions_total', 'What the command processor did with each chat event', ['platform', 'decision']),
    speechDropped: counter('idolcast_speech_dropped_total', 'Lines dropped instead of spoken: stale (waited past their time-to-live) or cleared by a moderator', ['stage', 'reason']),
    // Degradation (see src/degradation.ts).
    degradationLevel: gauge('idolcast_degradation_level', 'How far the fleet has degraded: 0 normal, 1 plain chat shed, 2 plain chat on a short time-to-live, 3 cheaper voices for chat lines', []),
    redisRoundTrip: gauge('idolcast_redis_round_trip_seconds', 'Round trip of a PING to Redis, median of the last three samples of the degradation monitor', []),
    chatShed: counter('idolcast_chat_shed_total', 'Plain chat messages shed instead of spoken, by what raised the degradation level (backlog, redis_rtt)', ['reason']),
    // Chat sources.
    sourceConnected: gauge('idolcast_chat_source_connected', 'Whether a chat source is connected (1) or not (0), by platform and room', ['platform', 'room']),
    sourceReconnects: counter('idolcast_chat_source_reconnects_total', 'Reconnects of chat sources, by platform', ['platform']),
    // TTS.
    lineSynthesis: histogram('idolcast_tts_line_seconds', 'Time to voice a whole line, all its parts', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    timeToFirstAudio: histogram('idolcast_tts_time_to_first_audio_seconds', 'From a tts job starting to its first part voiced, by engine', ['engine'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    realTimeFactor: histogram('idolcast_tts_real_time_factor', 'Synthesis time divided by the audio duration, by engine (below 1: faster than real time)', ['engine'], [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]),
    breakerState: gauge('idolcast_tts_breaker_state', 'Breaker of each remote TTS engine: 0 closed, 1 half-open, 2 open', ['engine']),
    spoken: counter('idolcast_tts_spoken_total', 'Parts of lines voiced, by the engine and voice that actually spoke', ['engine', 'voice']),
    fallbacks: counter('idolcast_tts_fallbacks_total', 'Times a voice failed and the next in its chain was tried, by the failing engine', ['engine']),
    ttsCache: counter('idolcast_tts_cache_total', 'Speech cache lookups', ['result']),
    cheaperVoice: counter('idolcast_tts_cheaper_voice_total', 'Chat lines voiced by a cheaper voice at degradation level 3, by the voice asked for and the one used', ['voice', 'cheaper']),
    // Scenes (OBS over obs-websocket).
    obsConnected: gauge('idolcast_obs_connected', 'Whether the scene worker is connected to OBS (1) or not (0)', []),
    obsConnects: counter('idolcast_obs_connect_attempts_total', 'Connection attempts to OBS, by outcome (ok, auth_failed, error)', ['outcome']),
    obsRequests: histogram('idolcast_obs_request_seconds', 'Requests to OBS, by request type and outcome', ['request', 'status'], SECONDS_FAST),
    // Programme.
    programme: counter('idolcast_programme_total', 'Routine firings and timeline steps, by routine or timeline and outcome (done, quiet, late, cancelled)', ['name', 'outcome']),
    // Broadcast.
    onAir: counter('idolcast_utterances_aired_total', 'Utterances played out on air, by channel', ['channel']),
    chatToOnAir: histogram('idolcast_chat_to_on_air_seconds', 'From accepting a chat message or say to its first sample going on air, by channel', ['channel'], SECONDS_LATENCY),
    destinationOnAir: gauge('idolcast_destination_on_air', 'Whether a destination is receiving the stream (1) or not (0), by channel and destination', ['channel', 'destination']),
    destinationReconnects: counter('idolcast_destination_reconnects_total', 'Times a destination pusher was restarted after failing', ['channel', 'destination']),
    destinationBytes: counter('idolcast_destination_bytes_total', 'Stream bytes handed to a destination pusher', ['channel', 'destination']),
    destinationDropped: counter('idolcast_destination_dropped_bytes_total', 'Stream bytes a stalled or reconnecting destination did not get (the others are never held up)', ['channel', 'destination']),
    watchdogActions: counter('idolcast_watchdog_actions_total', 'Steps the broadcast watchdog took against a fault in the output, by fault and step', ['channel', 'fault', 'step']),
    watchdogAlert: gauge('idolcast_watchdog_alert', 'A fault the watchdog could not clear by restarting and falling back (1) or none (0)', ['channel', 'fault']),
    playoutUnderruns: counter('idolcast_playout_underruns_total', 'Times the encoder ran out of playout audio because the broadcaster fell behind its lead', ['channel']),
    videoFramesDropped: counter('idolcast_video_frames_dropped_total', 'Feed or slate frames skipped because the broadcaster fell more than a second behind', ['channel']),
    encoderRestarts: counter('idolcast_encoder_restarts_total', 'Times the broadcast encoder (ffmpeg) was restarted', ['channel']),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
