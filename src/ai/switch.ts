import type { Redis } from '../redis';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import { aiKeys } from './keys';

/** The AI's on/off state: who set it and when, or `config` when nobody has yet (`ai.enabled`). */
export interface AiState {
  on: boolean;
  by?: string;
  at?: number;
  source: 'switch' | 'config' | 'unreadable';
}

/** How long a read is reused: a switch turned off on any replica stops new replies within this (well under a second). */
export const SWITCH_CACHE_MS = 250;

/**
 * The fleet-wide kill switch of AI replies (`idolcast ai off|on`, a moderator's `!ai off|on`,
 * the live page): one Redis hash without a TTL, so it is kept across restarts of the fleet (and
 * of Redis, with its persistence). Until someone sets it, `ai.enabled` from the config rules.
 * `isOn` is cheap: a read is cached for `SWITCH_CACHE_MS`, and a change made through this
 * instance applies here at once. It fails closed: state that cannot be read counts as off.
 * Commands and the programme do not ask it; only AI replies and idle talk do.
 */
export class AiSwitch {
  private readonly key: string;
  private cached?: { state: AiState; until: number };
  private warned = false;

  constructor(private readonly deps: { config: Config; redis: Redis; log: Logger; now?: () => number }) {
    this.key = aiKeys(deps.config.redis.prefix).switch;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Turn AI replies on or off fleet-wide; `by` names who did it (logged, shown in status). */
  async set(on: boolean, by: string): Promise<AiState> {
    const state: AiState = { on, by: by.slice(0, 100), at: this.now(), source: 'switch' };
    await this.deps.redis.hset(this.key, { on: on ? '1' : '0', by: state.by, at: String(state.at) });
    this.cached = { state, until: this.now() + SWITCH_CACHE_MS };
    this.deps.log.warn({ on, by: state.by }, on ? 'AI replies turned on' : 'AI replies turned off (kill switch)');
    return state;
  }

  /** The state as stored now (no cache), for status and the control page. */
  async state(): Promise<AiState> {
    try {
      const h = await this.deps.redis.hgetall(this.key);
      this.warned = false;
      if (h.on !== '0' && h.on !== '1') return { on: this.deps.config.ai.enabled, source: 'config' };
      return { on: h.on === '1', by: h.by, at: Number(h.at) || undefined, source: 'switch' };
    } catch (err) {
      if (!this.warned) this.deps.log.warn({ err: (err as Error).message }, 'AI switch unreadable: AI replies count as off');
      this.warned = true;
      return { on: false, source: 'unreadable' };
    }
  }

  /** Whether AI replies may start now (cached for at most SWITCH_CACHE_MS). */
  async isOn(): Promise<boolean> {
    const now = this.now();
    if (this.cached && now < this.cached.until) return this.cached.state.on;
    const state = await this.state();
    this.cached = { state, until: now + SWITCH_CACHE_MS };
    return state.on;
  }
}
