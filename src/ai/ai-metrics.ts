import client from 'prom-client';
import type { Metrics } from '../metrics';

const FAST = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function metric<T extends client.Metric>(metrics: Metrics, name: string, make: () => T): T {
  return (metrics.registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Metrics of AI replies, registered once per process registry (metrics.ts stays untouched until the wiring). */
export function aiMetrics(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    breakerState: metric(metrics, 'idolcast_ai_breaker_state', () => new client.Gauge({ name: 'idolcast_ai_breaker_state', help: 'Breaker of each model engine and the moderator: 0 closed, 1 half-open, 2 open', labelNames: ['engine'], registers })),
    fallbacks: metric(metrics, 'idolcast_ai_fallbacks_total', () => new client.Counter({ name: 'idolcast_ai_fallbacks_total', help: 'Model engines skipped or failed before answering, by engine and reason', labelNames: ['engine', 'reason'], registers })),
    tokens: metric(metrics, 'idolcast_ai_tokens_total', () => new client.Counter({ name: 'idolcast_ai_tokens_total', help: 'Tokens used, by engine and direction (in, out)', labelNames: ['engine', 'direction'], registers })),
    blocked: metric(metrics, 'idolcast_ai_blocked_total', () => new client.Counter({ name: 'idolcast_ai_blocked_total', help: 'Generated sentences not approved by the safety gate, by reason', labelNames: ['reason'], registers })),
    skipped: metric(metrics, 'idolcast_ai_skipped_total', () => new client.Counter({ name: 'idolcast_ai_skipped_total', help: 'Chat messages picked for a reply but passed over for a better one or grown too old, by channel', labelNames: ['channel'], registers })),
    firstSentence: metric(metrics, 'idolcast_ai_time_to_first_sentence_seconds', () => new client.Histogram({ name: 'idolcast_ai_time_to_first_sentence_seconds', help: 'From starting a reply (prompt, model chain) to its first sentence approved by the safety gate, by engine', labelNames: ['engine'], buckets: FAST, registers })),
    replies: metric(metrics, 'idolcast_ai_replies_total', () => new client.Counter({ name: 'idolcast_ai_replies_total', help: 'AI replies and idle lines queued for speech, by channel, situation and the engine that wrote them', labelNames: ['channel', 'situation', 'engine'], registers })),
    dumped: metric(metrics, 'idolcast_ai_dumped_total', () => new client.Counter({ name: 'idolcast_ai_dumped_total', help: 'Dumps of AI lines (!dump, idolcast dump, the live page) the active broadcaster carried out, by channel', labelNames: ['channel'], registers })),
    unheard: metric(metrics, 'idolcast_ai_unheard_total', () => new client.Counter({ name: 'idolcast_ai_unheard_total', help: 'Chat messages of a flood the AI did not hear (not remembered, not offered): past ai.reply.heardPerBatch of a channel batch, by channel', labelNames: ['channel'], registers })),
    firstToken: metric(metrics, 'idolcast_ai_time_to_first_token_seconds', () => new client.Histogram({ name: 'idolcast_ai_time_to_first_token_seconds', help: 'From asking a model engine to its first text, by engine', labelNames: ['engine'], buckets: FAST, registers })),
  };
}
export type AiMetrics = ReturnType<typeof aiMetrics>;

export const BREAKER_GAUGE = { closed: 0, halfOpen: 1, open: 2 } as const;
