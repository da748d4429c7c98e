import OpenAI from 'openai';
import type { LlmEngineConfig } from '../config/ai.schema';
import type { Logger } from '../logger';
import { LlmError, providerError, sdkLogger, type LlmEngine, type LlmMessage, type LlmOptions, type LlmStream, type TokenUsage } from './llm-engine';

type OpenAiConfig = Extract<LlmEngineConfig, { kind: 'openai' }>;

/**
 * OpenAI chat completions, streamed, through the official SDK: OpenAI itself and every server
 * speaking the same API at another base URL (Ollama, llama.cpp server, vLLM, LM Studio). The
 * SDK's own retries are off: the model chain decides what to do about a failure.
 */
export class OpenAiEngine implements LlmEngine {
  readonly kind = 'openai';
  private readonly client: OpenAI;

  constructor(
    readonly name: string,
    private readonly config: OpenAiConfig,
    log?: Logger,
  ) {
    // Local servers need no key, but the SDK refuses an empty one.
    this.client = new OpenAI({ apiKey: config.apiKey || 'none', baseURL: config.baseUrl, maxRetries: 0, logLevel: 'warn', logger: sdkLogger(log) });
  }

  stream(messages: LlmMessage[], opts: LlmOptions, signal: AbortSignal): LlmStream {
    let usage: TokenUsage | undefined;
    const { client, name, config } = this;
    async function* deltas(): AsyncGenerator<string> {
      try {
        const stream = await client.chat.completions.create(
          { model: config.model, messages, max_tokens: opts.maxTokens, temperature: opts.temperature, stream: true, stream_options: { include_usage: true } },
          { signal },
        );
        let finished = false;
        for await (const chunk of stream) {
          if (chunk.usage || chunk.choices?.[0]?.finish_reason) finished = true;
          if (chunk.usage) usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens };
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) yield text;
        }
        // A stream cut off by the network can look like a quiet end: the protocol's finish says otherwise.
        if (!finished) throw new LlmError(`${name}: the stream ended before the model finished`, true);
      } catch (err) {
        throw providerError(name, err);
      }
    }
    return { deltas: deltas(), usage: () => usage };
  }
}
