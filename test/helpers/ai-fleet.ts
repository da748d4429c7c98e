import { ModelChain } from '../../src/ai/chain';
import { llmEngines } from '../../src/ai/engines';
import { generateReply, type ApprovedSentence, type ReplyEnd } from '../../src/ai/reply';
import { SafetyGate } from '../../src/ai/safety';
import type { PromptInput } from '../../src/ai/prompt';
import { createLogger } from '../../src/logger';
import { LOCAL_ENGINE } from '../../src/config/schema';
import type { Deps } from '../../src/deps';
import { createMetrics } from '../../src/metrics';
import { SpeechStore } from '../../src/speech-store';
import { TestFleet } from './fleet';
import { FAKE_LLM_KEY, type FakeLlm } from '../../testkit/fake-llm';

export const aiLog = createLogger('ai-test', 'silent');

/**
 * A fleet whose `idol` persona asks `cloud` (OpenAI-compatible, on the fake), then `claude`
 * (Anthropic, on the fake), then `canned`; the moderator is the fake's /v1/moderations. `ai.safety`
 * is merged into the fake moderator's settings (e.g. `{ safety: { delayMs: 0 } }`).
 */
export function aiFleet(fake: FakeLlm, ai: Record<string, unknown> = {}, bannedWords = ['frobnicate'], chatLoad: Record<string, unknown> = {}) {
  const { safety, ...rest } = ai as { safety?: Record<string, unknown> };
  return new TestFleet({
    chat: { filter: { bannedWords }, load: chatLoad },
    ai: {
      engines: {
        cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_LLM_KEY, model: 'fake-gpt' },
        claude: { kind: 'anthropic', baseUrl: fake.url, apiKey: FAKE_LLM_KEY, model: 'fake-claude' },
        canned: { kind: 'canned', lines: { reply: ['[happy] A canned answer.'], blocked: ['Let us talk about something else.'] } },
      },
      personas: { idol: { name: 'Aiko', chain: ['cloud', 'claude', 'canned'] } },
      firstTokenDeadlineMs: 800,
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1500 },
      safety: { moderation: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_LLM_KEY, timeoutMs: 800, breaker: { volumeThreshold: 50 }, ...safety },
      ...rest,
    },
  });
}

/** One replica's AI parts over a fleet's config and Redis. */
export function aiReplica(fleet: TestFleet) {
  const { config, redis, keys } = fleet;
  const metrics = createMetrics('worker-ai', 'test');
  const engines = llmEngines(config.ai, aiLog);
  const chain = new ModelChain({ ai: config.ai, engines, redis, keys, log: aiLog, metrics });
  const gate = new SafetyGate({ config, redis, keys, log: aiLog, metrics });
  const deps = { ai: config.ai, chain, gate, engines, log: aiLog };
  const persona = config.ai.personas.idol!;
  return {
    chain,
    gate,
    metrics,
    deps,
    persona,
    /** Generate a whole reply: its approved sentences and how it ended. */
    async reply(input: PromptInput = { situation: 'reply', message: { user: 'viewer1', text: 'How are you?' } }) {
      const sentences: ApprovedSentence[] = [];
      let end: ReplyEnd | undefined;
      for await (const s of generateReply(deps, persona, input, (e) => (end = e))) sentences.push(s);
      return { sentences, end: end!, engine: end!.engine };
    },
    shutdown() {
      chain.shutdown();
      gate.shutdown();
    },
  };
}

/** A line's first part voiced by the engine (its raw audio stored), as the audio worker gets it; `platform: 'ai'` makes it an AI line. */
export async function voicedLine(fleet: TestFleet, id: string, platform: string) {
  await new SpeechStore(fleet.redis, fleet.keys, fleet.config).putRaw(id, 0, Buffer.alloc(4800));
  return {
    utteranceId: id, channel: 'main', text: 'A line.', voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform, user: 'Aiko' },
    part: 0, parts: 1, engine: LOCAL_ENGINE, format: { sampleRate: 24000, channels: 1 },
  };
}

/** What the audio worker's handler needs, in-process on the fleet's config and Redis (no speech service: it voices nothing). */
export function audioWorkerDeps(fleet: TestFleet): Deps {
  const metrics = createMetrics('worker-audio', 'test');
  return { ...fleet, config: fleet.config, log: aiLog, metrics, publish: async () => {}, attempt: 1, job: { id: 't', scheduledFor: Date.now() } } as unknown as Deps;
}
