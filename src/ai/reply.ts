import { CANNED_KIND, type AiConfig, type Emotion, type PersonaConfig, type Situation } from '../config/ai.schema';
import type { Logger } from '../logger';
import { CannedEngine } from './canned.engine';
import type { ChainEnd, ModelChain } from './chain';
import type { LlmEngine } from './llm-engine';
import { buildPrompt, type PromptInput } from './prompt';
import type { SafetyGate } from './safety';
import { parseTags, toSentences } from './sentences';

/** A sentence approved to go on (to the delay buffer, then speech), in reply order. */
export interface ApprovedSentence {
  index: number;
  text: string;
  emotion: Emotion;
  /** The engine that wrote it; `canned` marks a line put in for a refused first sentence. */
  engine: string;
  canned: boolean;
}

/** How a reply ended, for logging and counting. */
export interface ReplyEnd {
  /** `blocked`: a sentence was refused (the reply ends there); otherwise how the model chain ended. */
  ended: ChainEnd | 'blocked';
  engine?: string;
  /** The refusal, when `blocked`: the gate's kind (blocked or unavailable) and reason; the sentence's text is not kept. */
  refused?: { kind: 'blocked' | 'unavailable'; reason: string; index: number };
  skipped: { engine: string; reason: string }[];
  sentences: number;
}

export interface ReplyDeps {
  ai: AiConfig;
  chain: ModelChain;
  gate: SafetyGate;
  engines: Map<string, LlmEngine>;
  log: Logger;
}

/** The persona's canned engine (the last of its chain, as the config requires). */
function cannedOf(deps: ReplyDeps, persona: PersonaConfig): CannedEngine {
  const engine = deps.engines.get(persona.chain[persona.chain.length - 1]!);
  if (!(engine instanceof CannedEngine)) throw new Error(`persona chain must end in a ${CANNED_KIND} engine`);
  return engine;
}

/** A canned line in place of a refused first sentence, checked against the words list too. */
async function standIn(deps: ReplyDeps, persona: PersonaConfig, situation: Situation): Promise<ApprovedSentence | undefined> {
  const canned = cannedOf(deps, persona);
  const { text, emotion } = parseTags(canned.pick(situation));
  const verdict = await deps.gate.check(text, { trusted: true });
  return verdict.ok ? { index: 0, text: verdict.text, emotion: emotion ?? 'neutral', engine: canned.name, canned: true } : undefined;
}

/**
 * One reply, end to end: the prompt, the model chain, sentences as the model writes them, each
 * checked by the safety gate before it is yielded. A refused sentence ends the reply there (the
 * model is no longer read); when it was the first, one canned line stands in (the `blocked`
 * lines for a refusal, the situation's own for an unavailable moderator), so the idol still
 * answers without anything unchecked going out. `onEnd` receives how it ended.
 */
export async function* generateReply(deps: ReplyDeps, persona: PersonaConfig, input: PromptInput, onEnd?: (end: ReplyEnd) => void): AsyncGenerator<ApprovedSentence> {
  const run = deps.chain.run(persona, buildPrompt(persona, input, deps.ai.historyTurns), input.situation);
  const end: ReplyEnd = { ended: 'stopped', skipped: [], sentences: 0 };
  try {
    for await (const s of toSentences(run.deltas, { maxChars: deps.ai.sentences.maxChars, maxReplyChars: persona.maxReplyChars, complete: () => run.outcome()?.ended === 'done' })) {
      const engine = run.engine()!;
      const verdict = await deps.gate.check(s.text, { trusted: engine.kind === CANNED_KIND });
      if (!verdict.ok) {
        end.ended = 'blocked';
        end.refused = { kind: verdict.kind, reason: verdict.reason, index: s.index };
        if (s.index === 0) {
          const line = await standIn(deps, persona, verdict.kind === 'blocked' ? 'blocked' : input.situation);
          if (line) {
            end.sentences++;
            yield line;
          }
        }
        return;
      }
      end.sentences++;
      yield { index: s.index, text: verdict.text, emotion: s.emotion, engine: engine.name, canned: engine.kind === CANNED_KIND };
    }
  } finally {
    const outcome = run.outcome();
    if (end.ended !== 'blocked') end.ended = outcome?.ended ?? 'stopped';
    end.engine = outcome?.engine ?? run.engine()?.name;
    end.skipped = outcome?.skipped ?? [];
    deps.log.info({ ended: end.ended, engine: end.engine, sentences: end.sentences, refused: end.refused, skipped: end.skipped.length }, 'AI reply ended');
    onEnd?.(end);
  }
}
