import { FAKE_LLM_KEY } from '../testkit/fake-llm';

/**
 * The AI part of a harness host's config: the persona asks a loopback OpenAI-compatible model,
 * then canned lines; the moderator is the same loopback server. Cooldowns are short so a run's
 * paid messages are all answered within its settle time; idle talk is off (chat never stops).
 */
export function aiHostConfig(llmUrl: string): Record<string, unknown> {
  return {
    engines: { cloud: { kind: 'openai', baseUrl: `${llmUrl}/v1`, apiKey: FAKE_LLM_KEY, model: 'fake-gpt' }, canned: { kind: 'canned' } },
    personas: { idol: { name: 'Aiko', chain: ['cloud', 'canned'] } },
    safety: { moderation: 'openai', baseUrl: `${llmUrl}/v1`, apiKey: FAKE_LLM_KEY },
    reply: { channelCooldownMs: 500, userCooldownMs: 0 },
    idle: { enabled: false },
  };
}

/** One AI reply as the reply worker logs it: the chat message answered and the slot naming its lines. */
interface Answered {
  slot: string;
  sentences: number;
}

/**
 * The books of AI replies in a harness run, from the reply worker's log (`AI reply queued for
 * speech`, with the message id) and the lines on air (`ai-<slot>-<n>`).
 */
export class AiBooks {
  private readonly answered = new Map<string, Answered>();

  /** Feed every fleet log line. */
  book(line: Record<string, unknown>): void {
    if (line.msg !== 'AI reply queued for speech' || typeof line.messageId !== 'string' || typeof line.slot !== 'string') return;
    this.answered.set(line.messageId, { slot: line.slot, sentences: Number(line.sentences) || 0 });
  }

  /** Whether every one of `ids` has had its reply logged. */
  answeredAll(ids: string[]): boolean {
    return ids.every((id) => this.answered.has(id));
  }

  /**
   * Of the paid messages: how many got a reply whose first line went on air. Of the unpaid ones:
   * how many got a reply at all (under a flood these are shed first: only before the level rose).
   */
  account(paid: string[], unpaid: string[], aired: (utteranceId: string) => number) {
    const onAir = (id: string) => {
      const a = this.answered.get(id);
      return Boolean(a && a.sentences > 0 && aired(`ai-${a.slot}-0`) > 0);
    };
    const missing = paid.filter((id) => !onAir(id));
    return { paidSent: paid.length, paidAnsweredOnAir: paid.length - missing.length, paidMissing: missing.slice(0, 10), unpaidSent: unpaid.length, unpaidAnswered: unpaid.filter((id) => this.answered.has(id)).length };
  }
}
