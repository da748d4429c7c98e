import type { Redis } from '../redis';
import type { Config } from '../config/schema';
import { createLogger } from '../logger';
import { AiSwitch, type AiState } from './switch';

/** How the switch reads on one line: on/off, and who set it when, or that the config rules. */
export function describeAiState(s: AiState): string {
  const why = s.source === 'switch' ? `set by ${s.by ?? '?'}${s.at ? ` at ${new Date(s.at).toISOString()}` : ''}` : s.source === 'config' ? 'from the config (ai.enabled)' : 'state unreadable: counts as off';
  return `AI replies ${s.on ? 'on' : 'off'} (${why})`;
}

/** `idolcast ai on|off|status`: the fleet-wide kill switch of AI replies, as the operator at this shell. */
export async function aiCommand(action: 'on' | 'off' | 'status', parts: { config: Config; redis: Redis }): Promise<string> {
  const sw = new AiSwitch({ ...parts, log: createLogger('cli', 'silent') });
  const state = action === 'status' ? await sw.state() : await sw.set(action === 'on', `cli:${process.env.USER ?? 'operator'}`);
  return describeAiState(state);
}
