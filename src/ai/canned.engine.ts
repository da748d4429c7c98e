import type { LlmEngineConfig, Situation } from '../config/ai.schema';
import type { LlmEngine, LlmMessage, LlmOptions, LlmStream } from './llm-engine';

type CannedConfig = Extract<LlmEngineConfig, { kind: 'canned' }>;

/**
 * Lines the operator wrote, per situation, dealt like cards: each round goes through every line
 * once in a random order, and a new round never starts with the line that ended the last one.
 * No network, no Redis: it cannot fail, which is why every model chain ends in one.
 */
export class CannedEngine implements LlmEngine {
  readonly kind = 'canned';
  private readonly decks = new Map<Situation, string[]>();
  private readonly last = new Map<Situation, string>();

  constructor(
    readonly name: string,
    private readonly config: CannedConfig,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next line for a situation; '' for one without lines (`summary`: the caller keeps what it had). */
  pick(situation: Situation): string {
    if (!Object.hasOwn(this.config.lines, situation)) return '';
    let deck = this.decks.get(situation);
    if (!deck?.length) {
      deck = shuffle([...this.config.lines[situation as keyof CannedConfig['lines']]], this.random);
      const previous = this.last.get(situation);
      if (deck.length > 1 && deck[deck.length - 1] === previous) [deck[0], deck[deck.length - 1]] = [deck[deck.length - 1]!, deck[0]!];
      this.decks.set(situation, deck);
    }
    const line = deck.pop()!;
    this.last.set(situation, line);
    return line;
  }

  stream(_messages: LlmMessage[], opts: LlmOptions, _signal: AbortSignal): LlmStream {
    const line = this.pick(opts.situation);
    async function* deltas(): AsyncGenerator<string> {
      yield line;
    }
    return { deltas: deltas(), usage: () => undefined };
  }
}

/** Fisher–Yates; the deck is dealt from its end. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
