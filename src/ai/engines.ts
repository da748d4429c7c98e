import type { AiConfig } from '../config/ai.schema';
import { AnthropicEngine } from './anthropic.engine';
import { CannedEngine } from './canned.engine';
import type { Logger } from '../logger';
import type { LlmEngine } from './llm-engine';
import { OpenAiEngine } from './openai.engine';

/** Every configured model engine by name. */
export function llmEngines(ai: AiConfig, log?: Logger): Map<string, LlmEngine> {
  const out = new Map<string, LlmEngine>();
  for (const [name, cfg] of Object.entries(ai.engines)) {
    out.set(name, cfg.kind === 'openai' ? new OpenAiEngine(name, cfg, log?.child({ engine: name })) : cfg.kind === 'anthropic' ? new AnthropicEngine(name, cfg, log?.child({ engine: name })) : new CannedEngine(name, cfg));
  }
  return out;
}
