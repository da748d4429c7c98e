import type { Situation } from '../config/ai.schema';
import type { Logger } from '../logger';

/** One message of a conversation as every provider takes it; the system prompt is the first, if any. */
export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Tokens one request used, as the provider reported them. */
export interface TokenUsage {
  input: number;
  output: number;
}

export interface LlmOptions {
  maxTokens: number;
  temperature: number;
  /** What the reply is for: canned engines pick their lines by it. */
  situation: Situation;
}

/** A reply as it streams: text deltas, then the usage once the provider reported it (after the deltas end). */
export interface LlmStream {
  deltas: AsyncIterable<string>;
  usage(): TokenUsage | undefined;
}

/**
 * A language model engine: messages in, a stream of text deltas out. The request starts when
 * `stream` is called; aborting `signal` closes it. Engines do not retry (the chain does).
 */
export interface LlmEngine {
  readonly name: string;
  readonly kind: string;
  stream(messages: LlmMessage[], opts: LlmOptions, signal: AbortSignal): LlmStream;
}

/** A provider failure: `transient` ones (5xx, 429, timeouts, broken streams) may succeed later. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

/** An SDK's APIError (both SDKs share the shape: status, headers) as an LlmError naming the engine. */
export function providerError(engine: string, err: unknown): LlmError {
  if (err instanceof LlmError) return err;
  const e = err as Error & { status?: number; headers?: Headers | Record<string, string> };
  const status = typeof e.status === 'number' ? e.status : undefined;
  const header = e.headers instanceof Headers ? e.headers.get('retry-after') : e.headers?.['retry-after'];
  const retryAfterMs = header && /^\d+(\.\d+)?$/.test(header) ? Number(header) * 1000 : undefined;
  const transient = status === undefined || status === 429 || status >= 500;
  return new LlmError(`${engine}: ${status ? `HTTP ${status}: ` : ''}${e.message ?? String(err)}`, transient, retryAfterMs);
}

/**
 * A logger for the SDKs: their messages go to our log as fields, warnings and errors only, and
 * without the extra arguments (raw stream data, request details) they pass along.
 */
export function sdkLogger(log: Logger | undefined) {
  const at = (level: 'warn' | 'error' | 'info' | 'debug') => (message: string) => log?.[level]({ sdk: true }, String(message));
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
