import type { ChatEvent } from '../../queues/chat-event.schema';
import { SUMMARY_PRIORITY } from '../../queues/reply.queue';
import { aiShedDepth } from '../config/degradation.schema';
import type { Reading } from '../degradation';
import { engineConfigured } from '../ai/chain';
import { IdleTalk } from '../ai/idle';
import { dumpAi } from '../ai/delay';
import { Memory } from '../ai/memory';
import { aiMetrics, type AiMetrics } from '../ai/ai-metrics';
import { PRIORITY, ReplyPolicy, type ReplyMessage } from '../ai/reply-policy';
import { AiSwitch } from '../ai/switch';
import type { ProcessContext } from '../process';
import type { CommandEffects } from './commands';

type Deps = Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'queues' | 'log' | 'metrics'>;

/** One chat message as the AI sees it once its batch is decided. */
export interface AiChatItem {
  event: ChatEvent;
  channel: string;
  text: string;
  /** The batch's decision and, for a command, its built-in name. */
  decision: string;
  reason: string;
  builtin?: string;
  /** The command's text after its word (`!ask <rest>`). */
  rest?: string;
}

/** The reply job of a channel now: one per channel and pick window (same id: BullMQ keeps one). */
export function replyJob(channel: string, pickWindowMs: number, at = Date.now()) {
  return { channel, window: Math.floor(at / pickWindowMs) * pickWindowMs };
}

const viewerOf = (e: ChatEvent) => `${e.platform}:${e.user.id}`;

/**
 * The chat side of AI replies, in the ingest process: after a batch is decided, each message
 * that may be answered (a plain message that passed the filter, a paid one, `!ask <text>`) is
 * offered to the reply policy and remembered, and each channel with a new candidate gets one
 * reply job. Under load (a speech backlog of `degradation.aiShedDepth`, below the level-1 depth
 * that sheds plain chat, and every level from 1 on) only paid messages are offered: AI replies
 * are shed before plain chat speech is. Also the effects of `!ai on|off`, `!dump` and `!forgetme`.
 */
export class AiChat {
  private readonly policy: ReplyPolicy;
  private readonly switch: AiSwitch;
  private readonly memory: Memory;
  private readonly idle: IdleTalk;
  /** Whether a model (not only canned lines) is set up for the persona: viewer summaries need one. */
  private readonly summaries: boolean;
  private readonly unheard: AiMetrics['unheard'];

  constructor(private readonly deps: Deps) {
    this.policy = new ReplyPolicy(deps);
    this.switch = new AiSwitch(deps);
    this.memory = new Memory(deps);
    this.idle = new IdleTalk(deps);
    const ai = deps.config.ai;
    this.summaries = ai.personas[ai.defaultPersona]!.chain.some((e) => ai.engines[e]!.kind !== 'canned' && engineConfigured(ai.engines[e]!));
    this.unheard = aiMetrics(deps.metrics).unheard;
  }

  private message(i: AiChatItem, shed: boolean): ReplyMessage | undefined {
    const e = i.event;
    if (e.kind !== 'message' || !i.text) return undefined;
    const base = { id: e.id, viewer: viewerOf(e), name: e.user.displayName };
    if (e.paid && i.decision === 'reaction') return { ...base, text: i.text, paid: true };
    if (shed) return undefined;
    if (i.builtin === 'ask' && i.rest) return { ...base, text: `${this.deps.config.ai.reply.askCommand} ${i.rest}` };
    const plain = i.decision === 'spoken' || (i.decision === 'ignored' && i.reason === 'plain messages are not spoken');
    return plain && !i.builtin ? { ...base, text: i.text } : undefined;
  }

  /**
   * Offer a decided batch's messages; one reply job per channel that has a new candidate. With
   * the fleet degraded, or the speech backlog at `aiShedDepth` already, only paid ones.
   */
  async offer(items: AiChatItem[], load: Pick<Reading, 'level' | 'backlog'>): Promise<void> {
    // Idle talk's note goes with the batch's other writes (a flood pays round trips, not only Redis time).
    await Promise.all([this.noteChat(items), this.offerHeard(items, load)]);
  }

  private async offerHeard(items: AiChatItem[], load: Pick<Reading, 'level' | 'backlog'>): Promise<void> {
    const shed = load.level >= 1 || load.backlog >= aiShedDepth(this.deps.config);
    const byChannel = new Map<string, ReplyMessage[]>();
    for (const i of items) {
      const msg = this.message(i, shed);
      if (!msg) continue;
      const said = byChannel.get(i.channel);
      if (said) said.push(msg);
      else byChannel.set(i.channel, [msg]);
    }
    // The switch only when there is something to offer: its cached answer then stays as fresh as
    // the last message that could be answered (a batch of commands must not renew an old "off").
    if (!byChannel.size || !(await this.switch.isOn())) return;
    // Each channel's messages as one batch (a few script calls whatever its size), in the order they were said.
    await Promise.all(
      [...byChannel].map(async ([channel, said]) => {
        const msgs = this.hear(channel, said);
        // Memory and reply candidates are separate keys: both written at once, then the jobs they call for.
        const [waiting, offers] = await Promise.all([this.memory.recordMessages(channel, msgs.map((m) => ({ viewer: m.viewer, name: m.name, text: m.text }))), this.policy.offerMany(channel, msgs)]);
        const summaries = this.summaries ? msgs.filter((_m, n) => waiting[n]! >= this.deps.config.ai.memory.summaryEvery) : [];
        await Promise.all([
          ...summaries.map((m) => this.deps.queues.enqueue('reply', { task: 'summary', channel, viewer: m.viewer }, { priority: SUMMARY_PRIORITY })),
          offers.some((o) => o.accepted) && this.deps.queues.enqueue('reply', replyJob(channel, this.deps.config.ai.reply.pickWindowMs)),
        ]);
      }),
    );
  }

  /**
   * Of a channel's batch, what the AI hears (`ai.reply.heardPerBatch`, in the order said): every
   * paid message, then the ones most asking for a reply, newest first. The rest are counted: in a
   * flood the memory and reply candidates take a sample, so the AI's Redis work grows with the
   * batches, not with the messages, and chat speech keeps its pace.
   */
  private hear(channel: string, msgs: ReplyMessage[]): ReplyMessage[] {
    const max = this.deps.config.ai.reply.heardPerBatch;
    if (msgs.length <= max) return msgs;
    const ranked = msgs.map((m, n) => ({ n, rank: this.policy.rank(m) }));
    ranked.sort((a, b) => b.rank - a.rank || b.n - a.n);
    const heard = new Set(ranked.filter((r, j) => j < max || r.rank === PRIORITY.paid).map((r) => r.n));
    this.unheard.inc({ channel }, msgs.length - heard.size);
    return msgs.filter((_m, n) => heard.has(n));
  }

  /** Chat in a channel keeps the idol from starting idle talk there (one write per channel and batch). */
  private async noteChat(items: AiChatItem[]): Promise<void> {
    if (!this.deps.config.ai.idle.enabled) return;
    const channels = new Set(items.filter((i) => i.event.kind === 'message').map((i) => i.channel));
    await Promise.all([...channels].map((channel) => this.idle.noteChat(channel)));
  }

  /** `!ai on|off`, `!dump`, `!forgetme`, and `!ask` while AI replies are off; returns the chat reply, if any. */
  async apply(e: ChatEvent, channel: string, fx: CommandEffects): Promise<string | undefined> {
    if (fx.dump) {
      const { held } = await dumpAi(this.deps, channel, `${e.platform}:${e.user.login}`);
      return `AI lines dumped (${held} held)`;
    }
    if (fx.ai !== undefined) {
      await this.switch.set(fx.ai, `${e.platform}:${e.user.login}`);
      return `AI replies are ${fx.ai ? 'on' : 'off'}`;
    }
    if (fx.forget) {
      await this.memory.forget(undefined, viewerOf(e)); // every channel: the README's privacy promise
      return `@${e.user.displayName} I forgot what I knew about you`;
    }
    if (fx.ask && !(await this.switch.isOn())) return `@${e.user.displayName} AI replies are off right now`;
    return undefined;
  }
}
