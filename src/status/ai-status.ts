import { engineStatus, type EngineStatus } from '../ai/chain';
import { delayDepth } from '../ai/delay';
import { aiKeys } from '../ai/keys';
import { AiSwitch } from '../ai/switch';
import type { Config } from '../config/schema';
import { createLogger } from '../logger';
import type { Keyspace, Redis } from '../redis';

export interface AiChannelStatus {
  channel: string;
  /** The engine that wrote the channel's last reply, else the one the chain would ask first now. */
  engine: string | null;
  engineFrom: 'last reply' | 'chain';
  /** When the last reply was written (ms), with `engineFrom: 'last reply'`. */
  at?: number;
  /** Replies being generated or spoken, and candidates waiting for one. */
  inFlight: number;
  waiting: number;
  /** AI lines waiting in the broadcast delay (between voiced and on air). */
  delayDepth: number;
}

export interface AiStatus {
  /** On or off (the kill switch, else the config), and who set it. */
  on: boolean;
  source: string;
  by?: string;
  /** Each engine of `ai.engines`: breaker, today's use, budget left. */
  engines: Record<string, EngineStatus>;
  channels: AiChannelStatus[];
}

/** The first engine of the default persona's chain that would be asked now: set up, breaker closed, budget left. */
function firstHealthy(config: Config, engines: Record<string, EngineStatus>): string | null {
  const chain = config.ai.personas[config.ai.defaultPersona]!.chain;
  return chain.find((name) => {
    const e = engines[name];
    return e && e.configured && e.breakerOpenMs === undefined && e.tokensLeft !== 0 && e.costLeft !== 0;
  }) ?? null;
}

/** The AI part of `idolcast status`, from Redis alone. */
export async function collectAiStatus(config: Config, redis: Redis, keys: Keyspace): Promise<AiStatus> {
  const k = aiKeys(keys.prefix);
  const now = Date.now();
  const [state, engines] = await Promise.all([new AiSwitch({ config, redis, log: createLogger('status', 'silent') }).state(), engineStatus(config.ai, redis, keys)]);
  const fallback = firstHealthy(config, engines);
  const channels = await Promise.all(
    Object.keys(config.channels).map(async (channel): Promise<AiChannelStatus> => {
      const [last, inFlight, waiting, depth] = await Promise.all([
        redis.hgetall(k.lastEngine(channel)),
        redis.zcount(k.inFlight(channel), now, '+inf'),
        redis.zcard(k.candidates(channel)),
        delayDepth(redis, keys.prefix, channel, now),
      ]);
      const engine = last.engine ? { engine: last.engine, engineFrom: 'last reply' as const, at: Number(last.at) } : { engine: fallback, engineFrom: 'chain' as const };
      return { channel, ...engine, inFlight, waiting, delayDepth: depth };
    }),
  );
  return { on: state.on, source: state.source, ...(state.by && { by: state.by }), engines, channels };
}

const pad = (v: unknown, n: number) => String(v).padEnd(n);

function budgetLeft(e: EngineStatus): string {
  const parts = [e.tokensLeft !== undefined ? `${e.tokensLeft} tokens` : '', e.costLeft !== undefined ? `${e.costLeft.toFixed(4)} money` : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : e.kind === 'canned' ? '-' : 'no budget';
}

/** The AI lines of the text report. */
export function formatAiStatus(ai: AiStatus, now: number): string[] {
  const lines = [`AI        replies ${ai.on ? 'on' : 'OFF'} (${ai.source === 'switch' ? `set by ${ai.by ?? '?'}` : ai.source})`];
  lines.push(`  ${pad('ENGINE', 14)}${pad('KIND', 11)}${pad('BREAKER', 22)}${pad('TODAY IN/OUT', 16)}BUDGET LEFT`);
  for (const [name, e] of Object.entries(ai.engines)) {
    const breaker = e.kind === 'canned' ? '-' : !e.configured ? 'not set up' : e.breakerOpenMs !== undefined ? `OPEN (probe in ${Math.ceil(e.breakerOpenMs / 1000)} s)` : 'closed';
    lines.push(`  ${pad(name, 14)}${pad(e.kind, 11)}${pad(breaker, 22)}${pad(e.kind === 'canned' ? '-' : `${e.spent.input}/${e.spent.output}`, 16)}${budgetLeft(e)}`);
  }
  lines.push(`  ${pad('CHANNEL', 14)}${pad('ENGINE', 33)}${pad('IN FLIGHT', 11)}${pad('WAITING', 9)}IN DELAY`);
  for (const c of ai.channels) {
    const engine = c.engine === null ? 'none' : c.engineFrom === 'last reply' ? `${c.engine} (last reply ${Math.max(0, Math.round((now - c.at!) / 1000))} s ago)` : `${c.engine} (first in chain)`;
    lines.push(`  ${pad(c.channel, 14)}${pad(engine, 33)}${pad(c.inFlight, 11)}${pad(c.waiting, 9)}${c.delayDepth}`);
  }
  return lines;
}
