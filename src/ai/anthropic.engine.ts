import Anthropic from '@anthropic-ai/sdk';
import type { LlmEngineConfig } from '../config/ai.schema';
import type { Logger } from '../logger';
import { LlmError, providerError, sdkLogger, type LlmEngine, type LlmMessage, type LlmOptions, type LlmStream, type TokenUsage } from './llm-engine';

type AnthropicConfig = Extract<LlmEngineConfig, { kind: 'anthropic' }>;

/**
 * Anthropic Messages, streamed, through the official SDK. The system prompt travels in its own
 * field; the SDK's own retries are off (the model chain handles failures). This SDK version takes
 * no temperature (the model's own default applies).
 */
export class AnthropicEngine implements LlmEngine {
  readonly kind = 'anthropic';
  private readonly client: Anthropic;

  constructor(
    readonly name: string,
    private readonly config: AnthropicConfig,
    log?: Logger,
  ) {
    this.client = new Anthropic({ apiKey: config.apiKey || 'none', baseURL: config.baseUrl, maxRetries: 0, logLevel: 'warn', logger: sdkLogger(log) });
  }

  stream(messages: LlmMessage[], opts: LlmOptions, signal: AbortSignal): LlmStream {
    let usage: TokenUsage | undefined;
    const { client, name, config } = this;
    const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const turns = messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
    async function* deltas(): AsyncGenerator<string> {
      try {
        const stream = await client.messages.create(
          { model: config.model, max_tokens: opts.maxTokens, system, messages: turns, stream: true },
          { signal },
        );
        let input = 0;
        let stopped = false;
        for await (const event of stream) {
          if (event.type === 'message_stop') stopped = true;
          if (event.type === 'message_start') input = event.message.usage.input_tokens;
          else if (event.type === 'message_delta') usage = { input, output: event.usage.output_tokens };
          else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && event.delta.text) yield event.delta.text;
        }
        // A stream cut off by the network can look like a quiet end: message_stop says it finished.
        if (!stopped) throw new LlmError(`${name}: the stream ended before message_stop`, true);
      } catch (err) {
        throw providerError(name, err);
      }
    }
    return { deltas: deltas(), usage: () => usage };
  }
}
