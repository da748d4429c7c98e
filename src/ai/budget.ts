import type { Redis } from '../redis';
import type { LlmEngineConfig } from '../config/ai.schema';
import type { TokenUsage } from './llm-engine';

/** Usage hashes live a little past their day, for `idolcast status` and yesterday's figures. */
const USAGE_TTL_SECONDS = 3 * 24 * 3600;

/** A rough count for text a provider did not report usage for: about four characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export interface Spent {
  input: number;
  output: number;
  cost: number;
}

/**
 * Tokens in and out per engine per UTC day, counted in Redis so every replica shares one budget
 * (one hash per engine and day, expiring after three days; engine names come from config). An
 * engine whose daily token or money budget is spent is skipped by the model chain until the day
 * turns, as the YouTube quota budget does.
 */
export class TokenBudget {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly engines: Record<string, LlmEngineConfig>,
    private readonly now: () => number = Date.now,
  ) {}

  private key(engine: string): string {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    return `${this.prefix}:ai:usage:${engine}:${day}`;
  }

  async record(engine: string, usage: TokenUsage): Promise<void> {
    const key = this.key(engine);
    await this.redis.multi().hincrby(key, 'input', usage.input).hincrby(key, 'output', usage.output).expire(key, USAGE_TTL_SECONDS).exec();
  }

  /** What an engine used today, and its cost at the configured prices. */
  async spent(engine: string): Promise<Spent> {
    const raw = await this.redis.hmget(this.key(engine), 'input', 'output');
    const input = Number(raw[0] ?? 0);
    const output = Number(raw[1] ?? 0);
    const cfg = this.engines[engine];
    const budget = cfg && cfg.kind !== 'canned' ? cfg.budget : undefined;
    const cost = budget ? (input * budget.inputPerMillion + output * budget.outputPerMillion) / 1e6 : 0;
    return { input, output, cost };
  }

  /** Why an engine may not be asked today, or undefined while its budget lasts. */
  async exhausted(engine: string): Promise<string | undefined> {
    const cfg = this.engines[engine];
    if (!cfg || cfg.kind === 'canned') return undefined;
    const { dailyTokens, dailyCost } = cfg.budget;
    if (!dailyTokens && !dailyCost) return undefined;
    const s = await this.spent(engine);
    if (dailyTokens && s.input + s.output >= dailyTokens) return `daily token budget spent (${s.input + s.output}/${dailyTokens})`;
    if (dailyCost && s.cost >= dailyCost) return `daily money budget spent (${s.cost.toFixed(4)}/${dailyCost})`;
    return undefined;
  }
}
