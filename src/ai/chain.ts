import type { Redis } from '../redis';
import { CANNED_KIND, type AiConfig, type LlmEngineConfig, type PersonaConfig, type Situation } from '../config/ai.schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import { SharedBreakers, openBreakers } from '../shared-breaker';
import { BREAKER_GAUGE, aiMetrics, type AiMetrics } from './ai-metrics';
import { TokenBudget, estimateTokens } from './budget';
import { LlmError, providerError, type LlmEngine, type LlmMessage, type TokenUsage } from './llm-engine';

/** How a chain run ended: `done` (the answer is complete), `broken` (the engine failed after text went out: the reply ends there), `deadline` (the total deadline cut it), `stopped` (the consumer stopped reading). */
export type ChainEnd = 'done' | 'broken' | 'deadline' | 'stopped';

export interface ChainOutcome {
  /** The engine that answered (undefined only if the consumer stopped before any answered). */
  engine?: string;
  ended: ChainEnd;
  /** Engines passed over before the one that answered, with why. */
  skipped: { engine: string; reason: string }[];
  usage?: TokenUsage;
}

/** One reply being generated: text deltas of one engine; `engine()` says which, `outcome()` is set once the deltas end. */
export interface ChainRun {
  deltas: AsyncIterable<string>;
  engine(): { name: string; kind: string } | undefined;
  outcome(): ChainOutcome | undefined;
}

export interface ChainDeps {
  ai: AiConfig;
  engines: Map<string, LlmEngine>;
  redis: Redis;
  keys: Keyspace;
  log: Logger;
  metrics: Metrics;
}

const DEFAULT_BASE_URL: Record<string, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' };

/** A remote engine with neither a key nor an address of its own is not set up: the embedded default skips it. */
export function engineConfigured(cfg: LlmEngineConfig): boolean {
  return cfg.kind === CANNED_KIND || Boolean(cfg.apiKey) || cfg.baseUrl !== DEFAULT_BASE_URL[cfg.kind];
}

/** Longest a Retry-After keeps an engine skipped. */
const MAX_COOL_OFF_MS = 10 * 60_000;

type Started = { iterator: AsyncIterator<string>; first: string; usage: () => TokenUsage | undefined };

/** Rejects with the signal's reason once it aborts: an SDK stream waiting on a silent socket cannot outlive a deadline. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const reason = () => (signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A persona's model chain: engines tried in order until one sends its first token. A remote
 * engine is skipped while its breaker is open (here or on any replica, through Redis) or its
 * daily budget is spent; it fails over when it errors or sends nothing by the first-token
 * deadline (a breaker failure). Once an engine has sent text, it alone finishes the reply: a
 * failure after that ends the reply there, no second model continues another's sentence. The
 * chain's last engine is a canned one (the config requires it), so every run answers.
 */
export class ModelChain {
  readonly breakers: SharedBreakers;
  readonly budget: TokenBudget;
  private readonly m: AiMetrics;

  constructor(private readonly deps: ChainDeps) {
    this.m = aiMetrics(deps.metrics);
    this.breakers = new SharedBreakers({
      redis: deps.redis,
      key: (name) => llmBreakerKey(deps.keys, name),
      options: deps.ai.breaker,
      log: deps.log,
      onState: (engine, state) => this.m.breakerState.set({ engine }, BREAKER_GAUGE[state]),
    });
    this.budget = new TokenBudget(deps.redis, deps.keys.prefix, deps.ai.engines);
  }

  /** Start a reply with a persona's chain. Stopping the iteration (break, return) aborts the request. */
  run(persona: PersonaConfig, messages: LlmMessage[], situation: Situation): ChainRun {
    let current: { name: string; kind: string } | undefined;
    let outcome: ChainOutcome | undefined;
    const deltas = this.generate(persona, messages, situation, (e) => (current = e), (o) => (outcome = o));
    return { deltas, engine: () => current, outcome: () => outcome };
  }

  /** The key that keeps every replica off an engine that answered 429 with a Retry-After, until then. */
  private coolOffKey(name: string): string {
    return `${this.deps.keys.prefix}:ai:cooloff:${name}`;
  }

  /** Why to pass over an engine now, or undefined to ask it. Without Redis only the canned engine is asked. */
  private async skipReason(name: string): Promise<string | undefined> {
    const cfg = this.deps.ai.engines[name]!;
    if (cfg.kind === CANNED_KIND) return undefined;
    if (!engineConfigured(cfg)) return 'not configured';
    try {
      // Read together (one round trip, not three, before every model request), judged in this order.
      const [spent, open, coolingOff] = await Promise.all([this.budget.exhausted(name), this.breakers.isOpen(name), this.deps.redis.exists(this.coolOffKey(name))]);
      if (spent) return spent;
      if (open) return 'breaker open';
      if (coolingOff) return 'rate limited (Retry-After)';
    } catch (err) {
      return `shared state unavailable: ${(err as Error).message}`;
    }
    return undefined;
  }

  /** A 429's Retry-After keeps the fleet off the engine that long (capped, so a silly header cannot bench it for a day). */
  private async coolOff(name: string, err: unknown): Promise<void> {
    const e = providerError(name, err);
    if (e.retryAfterMs === undefined || !/HTTP 429/.test(e.message)) return;
    const ms = Math.min(Math.max(1, Math.round(e.retryAfterMs)), MAX_COOL_OFF_MS);
    await this.deps.redis.set(this.coolOffKey(name), '1', 'PX', ms).catch(() => {});
  }

  private async *generate(persona: PersonaConfig, messages: LlmMessage[], situation: Situation, onEngine: (e: { name: string; kind: string }) => void, onEnd: (o: ChainOutcome) => void): AsyncGenerator<string> {
    const skipped: ChainOutcome['skipped'] = [];
    const deadlineAt = Date.now() + this.deps.ai.totalDeadlineMs;
    const outcome: ChainOutcome = { ended: 'stopped', skipped };
    try {
      for (const name of persona.chain) {
        const why = await this.skipReason(name);
        if (why) {
          skipped.push({ engine: name, reason: why });
          this.m.fallbacks.inc({ engine: name, reason: why.startsWith('daily') ? 'budget' : why.split(/[:(]/)[0]!.trim() });
          continue;
        }
        const answered = yield* this.ask(name, messages, situation, deadlineAt, outcome, onEngine);
        if (answered) break;
      }
    } finally {
      if (skipped.length) this.deps.log.info({ skipped, engine: outcome.engine }, 'model chain fell over');
      onEnd(outcome);
    }
  }

  /** Ask one engine; false when it failed before its first token (the next one is asked). */
  private async *ask(name: string, messages: LlmMessage[], situation: Situation, deadlineAt: number, outcome: ChainOutcome, onEngine: (e: { name: string; kind: string }) => void): AsyncGenerator<string, boolean> {
    const engine = this.deps.engines.get(name)!;
    const cfg = this.deps.ai.engines[name]!;
    const abort = new AbortController();
    // The canned line is the answer of last resort: no deadline may take it away.
    const total = cfg.kind === CANNED_KIND ? undefined : setTimeout(() => abort.abort(new LlmError(`${name}: total deadline reached`, true)), Math.max(0, deadlineAt - Date.now()));
    let written = '';
    let started: Started | undefined;
    try {
      started = await this.start(engine, cfg, messages, situation, abort);
      if (!started) {
        outcome.skipped.push({ engine: name, reason: 'failed before its first token' });
        return false;
      }
      outcome.engine = name;
      onEngine({ name, kind: engine.kind });
      written = started.first;
      yield started.first;
      for (;;) {
        const next = await raceAbort(started.iterator.next(), abort.signal);
        if (next.done) break;
        written += next.value;
        yield next.value;
      }
      outcome.ended = 'done';
      return true;
    } catch (err) {
      if (!started) throw err;
      const e = providerError(name, err);
      outcome.ended = abort.signal.aborted && /total deadline/.test(e.message) ? 'deadline' : 'broken';
      if (cfg.kind !== CANNED_KIND) this.breakers.recordFailure(name, e);
      this.deps.log.warn({ engine: name, err: e.message, ended: outcome.ended }, 'model stream ended early: the reply ends here');
      return true;
    } finally {
      clearTimeout(total);
      abort.abort(); // closes the socket of a stream stopped early; a no-op after a full answer
      if (started && cfg.kind !== CANNED_KIND) await this.account(name, started.usage(), messages, written, outcome);
    }
  }

  /** Send the request and wait for the first text, within the first-token deadline, through the breaker. Undefined: it failed. */
  private async start(engine: LlmEngine, cfg: LlmEngineConfig, messages: LlmMessage[], situation: Situation, abort: AbortController): Promise<Started | undefined> {
    const opts = { maxTokens: cfg.kind === CANNED_KIND ? 0 : cfg.maxTokens, temperature: cfg.kind === CANNED_KIND ? 0 : cfg.temperature, situation };
    const asked = performance.now();
    const work = async (): Promise<Started> => {
      const stream = engine.stream(messages, opts, abort.signal);
      const iterator = stream.deltas[Symbol.asyncIterator]();
      const first = await raceAbort(iterator.next(), abort.signal);
      if (first.done) throw new LlmError(`${engine.name}: an empty answer`, true);
      return { iterator, first: first.value, usage: () => stream.usage() };
    };
    if (cfg.kind === CANNED_KIND) return work();
    const { firstTokenDeadlineMs } = this.deps.ai;
    const firstToken = setTimeout(() => abort.abort(new LlmError(`${engine.name}: no first token within ${firstTokenDeadlineMs} ms`, true)), firstTokenDeadlineMs);
    try {
      const started = await this.breakers.fire(engine.name, work);
      this.m.firstToken.observe({ engine: engine.name }, (performance.now() - asked) / 1000);
      return started;
    } catch (err) {
      await this.coolOff(engine.name, err);
      const reason = (err as { code?: string }).code === 'EOPENBREAKER' ? 'breaker open' : providerError(engine.name, err).message;
      this.m.fallbacks.inc({ engine: engine.name, reason: reason === 'breaker open' ? reason : 'failed' });
      this.deps.log.warn({ engine: engine.name, err: reason }, 'model engine failed before its first token: asking the next');
      abort.abort();
      return undefined;
    } finally {
      clearTimeout(firstToken);
    }
  }

  /** Count a run's tokens (estimated from the text when the provider sent no usage, as after an abort). */
  private async account(name: string, reported: TokenUsage | undefined, messages: LlmMessage[], written: string, outcome: ChainOutcome): Promise<void> {
    const usage = reported ?? { input: estimateTokens(messages.map((m) => m.content).join('\n')), output: estimateTokens(written) };
    outcome.usage = usage;
    this.m.tokens.inc({ engine: name, direction: 'in' }, usage.input);
    this.m.tokens.inc({ engine: name, direction: 'out' }, usage.output);
    await this.budget.record(name, usage).catch((err: Error) => this.deps.log.warn({ engine: name, err: err.message }, 'token usage not counted'));
  }

  /** Each engine's state for `idolcast status` (see `engineStatus`). */
  status(): Promise<Record<string, EngineStatus>> {
    return engineStatus(this.deps.ai, this.deps.redis, this.deps.keys);
  }

  shutdown(): void {
    this.breakers.shutdown();
  }
}

export interface EngineStatus {
  kind: string;
  configured: boolean;
  breakerOpenMs?: number;
  spent: { input: number; output: number; cost: number };
  tokensLeft?: number;
  costLeft?: number;
}

/** The shared breaker key of a model engine (one per engine name from config). */
export const llmBreakerKey = (keys: Keyspace, name: string) => keys.breaker(`llm:${name}`);

/**
 * Each engine's state as the fleet shares it, read from Redis alone (no breaker of this
 * process): set up or not, breaker open (ms until a probe), today's use and budget left.
 */
export async function engineStatus(ai: AiConfig, redis: Redis, keys: Keyspace): Promise<Record<string, EngineStatus>> {
  const names = Object.keys(ai.engines);
  const budget = new TokenBudget(redis, keys.prefix, ai.engines);
  const [open, spentAll] = await Promise.all([openBreakers(redis, names, (n) => llmBreakerKey(keys, n)), Promise.all(names.map((n) => budget.spent(n)))]);
  const out: Record<string, EngineStatus> = {};
  names.forEach((name, i) => {
    const cfg = ai.engines[name]!;
    if (cfg.kind === CANNED_KIND) {
      out[name] = { kind: cfg.kind, configured: true, spent: { input: 0, output: 0, cost: 0 } };
      return;
    }
    const spent = spentAll[i]!;
    const { dailyTokens, dailyCost } = cfg.budget;
    out[name] = {
      kind: cfg.kind,
      configured: engineConfigured(cfg),
      ...(open[name] !== undefined ? { breakerOpenMs: open[name] } : {}),
      spent,
      ...(dailyTokens ? { tokensLeft: Math.max(0, dailyTokens - spent.input - spent.output) } : {}),
      ...(dailyCost ? { costLeft: Math.max(0, dailyCost - spent.cost) } : {}),
    };
  });
  return out;
}
