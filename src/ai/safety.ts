import OpenAI from 'openai';
import type { Redis } from '../redis';
import { contentFilter, type FilterCheck } from '../chat/filter';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import { SharedBreakers } from '../shared-breaker';
import { stripEngineMarkup } from '../tts/text';
import { BREAKER_GAUGE, aiMetrics, type AiMetrics } from './ai-metrics';
import { sdkLogger } from './llm-engine';

/**
 * The gate's answer on one sentence. Approved: the text to speak (markup stripped, links handled
 * as the chat filter says). Refused: `blocked` (the words list or the moderator objected) or
 * `unavailable` (the moderator could not say: the gate fails closed).
 */
export type Verdict = { ok: true; text: string } | { ok: false; kind: 'blocked' | 'unavailable'; reason: string };

/** The breaker name of the moderation provider (its Redis key is under the breaker keys). */
export const MODERATOR = 'moderation';

const NO_SKIP: ReadonlySet<FilterCheck> = new Set();

/**
 * Checks every generated sentence before it may go on: the chat filter's banned words and links
 * (on the text as an engine would say it, engine markup stripped), then an OpenAI-compatible
 * /v1/moderations behind its own breaker, shared by the fleet through Redis. It fails closed: a
 * moderator that errors, times out, is skipped by its open breaker or answers something that is
 * not a moderation result approves nothing. With `ai.safety.moderation: none` (chosen in config,
 * never by default) the words list alone applies. Lines the operator wrote (`trusted`: canned
 * lines) skip the moderator, not the words list.
 */
export class SafetyGate {
  private readonly client?: OpenAI;
  readonly breakers: SharedBreakers;
  private readonly m: AiMetrics;

  constructor(private readonly deps: { config: Config; redis: Redis; keys: Keyspace; log: Logger; metrics: Metrics }) {
    const s = deps.config.ai.safety;
    this.m = aiMetrics(deps.metrics);
    if (s.moderation === 'openai') this.client = new OpenAI({ apiKey: s.apiKey || 'none', baseURL: s.baseUrl, maxRetries: 0, timeout: s.timeoutMs, logLevel: 'warn', logger: sdkLogger(deps.log) });
    this.breakers = new SharedBreakers({
      redis: deps.redis,
      // Under `moderator:`, apart from TTS engines (no colon in their names) and model engines (`llm:`).
      key: (name) => deps.keys.breaker(`moderator:${name}`),
      options: { errorThresholdPercentage: 50, volumeThreshold: s.breaker.volumeThreshold, rollingCountTimeoutMs: 30000, resetTimeoutMs: s.breaker.resetTimeoutMs },
      log: deps.log,
      onState: (engine, state) => this.m.breakerState.set({ engine }, BREAKER_GAUGE[state]),
    });
  }

  /** Check one sentence; a refusal is counted by reason and logged (without the sentence's text). */
  async check(sentence: string, opts: { trusted?: boolean } = {}): Promise<Verdict> {
    const verdict = await this.verdict(sentence, opts.trusted ?? false);
    if (!verdict.ok) {
      this.m.blocked.inc({ reason: verdict.kind === 'unavailable' ? 'moderator unavailable' : verdict.reason.split(':')[0]! });
      this.deps.log.warn({ kind: verdict.kind, reason: verdict.reason }, 'AI sentence not approved');
    }
    return verdict;
  }

  /** The words list (and links) alone, for text that is stored rather than spoken (the memory job's summaries). */
  checkWords(text: string): Verdict {
    const content = contentFilter(stripEngineMarkup(text), this.deps.config.chat.filter, NO_SKIP);
    return content.ok ? { ok: true, text: content.text } : { ok: false, kind: 'blocked', reason: content.reason };
  }

  private async verdict(sentence: string, trusted: boolean): Promise<Verdict> {
    const words = this.checkWords(sentence);
    if (!words.ok || !this.client || trusted) return words;
    const content = { text: words.text };
    if (await this.breakers.isOpen(MODERATOR).catch(() => true)) return { ok: false, kind: 'unavailable', reason: 'moderator breaker open' };
    try {
      const flagged = await this.breakers.fire(MODERATOR, () => this.moderate(content.text));
      return flagged.length ? { ok: false, kind: 'blocked', reason: `flagged: ${flagged.join(', ')}` } : { ok: true, text: content.text };
    } catch (err) {
      return { ok: false, kind: 'unavailable', reason: `moderator: ${(err as Error).message}` };
    }
  }

  /** The categories the moderator flagged (empty: approved); throws on anything that is not a moderation result. */
  private async moderate(text: string): Promise<string[]> {
    const s = this.deps.config.ai.safety;
    const answer: unknown = await this.client!.moderations.create({ model: s.model, input: text }, { timeout: s.timeoutMs, signal: AbortSignal.timeout(s.timeoutMs) });
    const result = (answer as { results?: unknown[] } | null)?.results?.[0] as { flagged?: unknown; categories?: unknown } | undefined;
    if (!result || typeof result.flagged !== 'boolean') throw new Error('not a moderation result');
    if (!result.flagged) return [];
    const categories = result.categories && typeof result.categories === 'object' ? Object.entries(result.categories).flatMap(([k, v]) => (v === true ? [k] : [])) : [];
    return categories.length ? categories : ['unspecified'];
  }

  shutdown(): void {
    this.breakers.shutdown();
  }
}
