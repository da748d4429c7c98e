import type { ChatEvent } from '../../queues/chat-event.schema';

/** Where a source hands each normalised event; the ingest dedupes, filters and processes it. */
export type ChatSink = (event: ChatEvent) => void;

/** Connection state a source reports (metrics, /readyz details, `idolcast status`). */
export interface ChatSourceStatus {
  platform: ChatEvent['platform'];
  /** The platform rooms this source reads (Twitch channels, a YouTube live chat id, a TikTok user). */
  rooms: string[];
  connected: boolean;
  reconnects: number;
  lastError?: string;
}

/**
 * One chat platform. `start` connects and keeps reconnecting (capped exponential backoff with
 * jitter) until `stop`; every message becomes one ChatEvent handed to the sink. A source never
 * throws out of its event handlers: bad input is logged and dropped.
 */
export interface ChatSource {
  readonly platform: ChatEvent['platform'];
  start(sink: ChatSink): Promise<void>;
  stop(): Promise<void>;
  status(): ChatSourceStatus;
  /** Post a reply in the room, when the platform and the configured credentials allow it. */
  reply?(room: string, text: string): Promise<void>;
}

/**
 * Reconnect delay for the n-th consecutive failure (0-based): exponential from `baseMs`, capped
 * at `capMs`, with full jitter so a fleet of replicas does not reconnect in lockstep.
 */
export function reconnectDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
