import { aiParts, type AiParts } from '../../src/ai/reply-parts';
import { aiKeys } from '../../src/ai/keys';
import type { Deps } from '../../src/deps';
import { createMetrics, type Metrics } from '../../src/metrics';
import { collectStatus, formatStatus, type StatusReport } from '../../src/status/status';
import { handle } from '../../workers/reply.worker';
import { FAKE_LLM_KEY, FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiLog } from '../helpers/ai-fleet';
import { runCli, type TestFleet } from '../helpers/fleet';

describe('idolcast status: the AI state (engines, breakers, budgets, the engine that answered, metrics)', () => {
  let fake: FakeLlm;
  let fleet: TestFleet;
  let ai: AiParts;
  let metrics: Metrics;
  const deps = (): Deps => ({
    config: fleet.config, redis: fleet.redis, keys: fleet.keys, queues: fleet.queues, metrics,
    publish: async () => {}, log: aiLog, attempt: 1, job: { id: 'test', scheduledFor: Date.now() }, speech: undefined as never, ai,
  });
  let n = 0;
  /** A viewer's question answered through the reply worker's handler. */
  const reply = async () => {
    await ai.policy.offer('main', { id: `m${++n}`, viewer: `twitch:${n}`, name: `v${n}`, text: 'how are you?' });
    return handle({ channel: 'main', window: 0 }, deps());
  };
  const status = async (): Promise<StatusReport> => JSON.parse((await runCli(['status', '--json'], fleet.env())).stdout) as StatusReport;

  beforeEach(async () => {
    fake = new FakeLlm();
    await fake.ready;
    fleet = aiFleet(fake, {
      engines: {
        cloud: { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_LLM_KEY, budget: { dailyTokens: 5000 } },
        claude: { kind: 'anthropic', baseUrl: fake.url, apiKey: FAKE_LLM_KEY, budget: { dailyCost: 1, inputPerMillion: 3, outputPerMillion: 15 } },
        canned: { kind: 'canned' },
      },
      reply: { channelCooldownMs: 0, userCooldownMs: 0 },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 }, // open through the status commands
    });
    metrics = createMetrics('worker-reply', 'test');
    ai = aiParts({ ...fleet, log: aiLog, metrics }, { waitVoiced: false });
  });
  afterEach(async () => {
    ai.shutdown();
    await fake.close();
    await fleet.close();
  });

  it('before any reply: the chain\'s first healthy engine; after the primary fails: its breaker open, the engine that answered, today\'s use and budget left', async () => {
    const before = await status();
    expect(before.ai).toMatchObject({ on: true, source: 'config', channels: [{ channel: 'main', engine: 'cloud', engineFrom: 'chain', inFlight: 0, waiting: 0, delayDepth: 0 }] });
    expect(before.ai.engines.cloud).toMatchObject({ kind: 'openai', configured: true, tokensLeft: 5000 });

    fake.faults.openai = '500';
    expect(await reply()).toEqual({ sentences: 2 });
    expect(await reply()).toEqual({ sentences: 2 });
    const after = await status();
    expect(after.ai.engines.cloud!.breakerOpenMs).toBeGreaterThan(0);
    expect(after.ai.engines.claude).toMatchObject({ spent: { output: 14 } });
    expect(after.ai.engines.claude!.costLeft).toBeLessThan(1);
    expect(after.ai.channels[0]).toMatchObject({ engine: 'claude', engineFrom: 'last reply' });
    const text = (await runCli(['status'], fleet.env())).stdout;
    expect(text).toMatch(/cloud +openai +OPEN \(probe in \d+ s\)/);
    expect(text).toMatch(/claude +anthropic +closed +\d+\/14 +0\.99\d+ money/);
    expect(text).toMatch(/main +claude \(last reply \d+ s ago\)/);

    // The metrics of the replies: by the engine that wrote them, the time to their first sentence, the fallbacks.
    const page = await metrics.registry.metrics();
    const value = (name: string, labels: string) => new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(page)?.[1];
    expect(value('idolcast_ai_replies_total', 'situation="reply",engine="claude"')).toBe('2');
    expect(value('idolcast_ai_time_to_first_sentence_seconds_count', 'engine="claude"')).toBe('2');
    expect(value('idolcast_ai_fallbacks_total', 'engine="cloud",reason="failed"')).toBe('2');
    expect(value('idolcast_ai_tokens_total', 'engine="claude",direction="out"')).toBe('14');
  });

  it('each channel shows how many AI lines wait in the broadcast delay', async () => {
    // Three lines due later and one already due (on its way to air): the depth is what still waits.
    const now = Date.now();
    await fleet.redis.zadd(aiKeys(fleet.config.redis.prefix).delay('main'), now + 60_000, 'a', now + 61_000, 'b', now + 62_000, 'c', now - 1000, 'due');
    const report = await collectStatus(fleet.config, fleet.redis, fleet.keys, fleet.queues, now);
    expect(report.ai.channels).toEqual([expect.objectContaining({ channel: 'main', delayDepth: 3 })]);
    expect(formatStatus(report)).toMatch(/CHANNEL +ENGINE +IN FLIGHT +WAITING +IN DELAY\n +main +cloud \(first in chain\) +0 +0 +3/);
  });
});
