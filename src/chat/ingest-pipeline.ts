import { createHash } from 'node:crypto';
import type { Payload } from '../../queues/registry';
import { currentVoices, markCleared, setEmote, setVoice } from '../channel-state';
import { configured, isConfigured } from '../config/names';
import { DegradationMonitor, LEVEL_NAMES, type Reading } from '../degradation';
import type { ProcessContext } from '../process';
import type { ChatEvent } from '../../queues/chat-event.schema';
import type { ControlMessage } from '../../queues/live-events';
import { AiChat } from './ai-chat';
import { announce } from './announce';
import { chatBatchCheck, defineChatCheck, seenId, type ChatCheckRequest } from './chat-check';
import { commandTable, fillTemplate, hasPermission, parseCommand, runCommand, type CommandEffects } from './commands';
import { stripEngineMarkup } from '../tts/text';
import { bypassed, contentFilter, localFilter, type FilterCheck } from './filter';
import { normaliseText, stripEmotes } from './normalise';
import { sleep } from '../time';
import { DurableEnqueue } from './durable-enqueue';

/** What happened to one chat event. */
export type Decision = 'spoken' | 'command' | 'reaction' | 'rejected' | 'ignored' | 'shed' | 'duplicate';
export interface Outcome {
  decision: Decision;
  reason: string;
}

type Deps = Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'queues' | 'log' | 'metrics' | 'publish'> & {
  /** Post a reply in the event's room (and on the channel's live page). */
  reply: (e: ChatEvent, text: string) => Promise<void>;
  /** The fleet's degradation level (the ingest process shares one with its periodic sampling; else the pipeline keeps its own). */
  degradation?: DegradationMonitor;
};

interface Pending {
  event: ChatEvent;
  resolve: (o: Outcome) => void;
  reject: (err: Error) => void;
}

/** One event's way through a batch. */
interface Item extends Pending {
  text: string;
  truncated: boolean;
  /** Why the user's text of a paid or platform event is not spoken or shown (its reaction still airs). */
  withheld?: string;
  outcome?: Outcome;
  command?: ReturnType<typeof parseCommand>;
  check?: ChatCheckRequest;
}

/** The jobs and effects a batch plans, and the backlog they make. */
interface Plan {
  tts: { payload: Payload<'tts'>; opts?: { delay: number } }[];
  scenes: { payload: Payload<'scene'>; opts?: { delay: number } }[];
  effects: { item: Item; fx: CommandEffects }[];
  shed: Item[];
  backlog: number;
}

/**
 * Batches processed at once. A batch is a chain of round trips (check, enqueue, the AI's memory),
 * most of them small and waiting behind another batch's addBulk: with four, Redis and Node both
 * have work while any one batch waits (two left each about half idle in a flood).
 */
const BATCHES_IN_FLIGHT = 4;

/** Whether a command speaks text a chatter typed (`!say <text>`, `!voice <name> <text>`); paid lines are exempt, as from shedding. */
function speaksChatText(builtin: string | undefined, args: number, e: ChatEvent): boolean {
  return !e.paid && ((builtin === 'say' && args > 0) || (builtin === 'voice' && args > 1));
}

/** A short hash of a message's text, case-folded, for the repeat window. */
const textHash = (text: string) => createHash('sha1').update(text.toLowerCase()).digest('base64url').slice(0, 16);

/** A BullMQ- and key-safe id from a platform message id. */
export function utteranceIdFor(e: ChatEvent, suffix = ''): string {
  return `${e.platform}-${e.id}${suffix ? `-${suffix}` : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
}

/**
 * The command processor under load. Events are collected into batches (up to `load.batchMax`,
 * at most `load.batchWaitMs`) and each batch costs a few Redis round trips whatever its size:
 * one pipeline of SET NX for duplicates, one of atomic rate-limit/repeat/cooldown checks, then
 * one addBulk per queue. Every event gets exactly one logged and counted decision.
 */
export class IngestPipeline {
  private pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly commands;
  private sampled = 0;
  /** Plain messages shed since the last summary line, and when the next one may go out. */
  private shedSinceSummary = 0;
  private nextSummaryAt = 0;
  readonly degradation: DegradationMonitor;
  private readonly ai: AiChat;
  private readonly durable: DurableEnqueue;

  constructor(private readonly deps: Deps) {
    this.ai = new AiChat(deps);
    this.durable = new DurableEnqueue(deps);
    defineChatCheck(deps.redis);
    this.commands = commandTable(deps.config);
    this.degradation = deps.degradation ?? new DegradationMonitor(deps);
  }

  /**
   * Take one event; resolves with its decision once its batch is processed. Batches form by
   * themselves: while one is being processed, new events gather for the next, so a quiet chat
   * pays no batching delay and a flood is taken in large batches.
   */
  accept(event: ChatEvent): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.running && !this.timer) this.timer = setTimeout(() => void this.run(), this.deps.config.chat.load.batchWaitMs);
    });
  }

  /** Resolves when every event accepted so far has its decision. */
  async drain(): Promise<void> {
    while (this.pending.length || this.running) {
      if (!this.running) await this.run();
      else await sleep(10);
    }
  }

  /** Process pending events, BATCHES_IN_FLIGHT batches at once so Node's work on one overlaps Redis's on the others. */
  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.running) return;
    this.running = true;
    const inFlight = new Set<Promise<void>>();
    try {
      while (this.pending.length || inFlight.size) {
        if (this.pending.length && inFlight.size < BATCHES_IN_FLIGHT) {
          const batch = this.pending.splice(0, this.deps.config.chat.load.batchMax);
          const p: Promise<void> = this.process(batch)
            .catch((err: Error) => {
              for (const b of batch) b.reject(err);
            })
            .finally(() => inFlight.delete(p));
          inFlight.add(p);
          continue;
        }
        await Promise.race(inFlight);
      }
    } finally {
      this.running = false;
    }
  }

  private async process(batch: Pending[]): Promise<void> {
    const { config, redis, keys } = this.deps;
    // Plain object literals, not spreads: a flood builds thousands of these per second.
    const items: Item[] = batch.map(({ event, resolve, reject }) => {
      const n = normaliseText(event.text, config.chat.maxLength);
      // Engine markup goes first, so the filter checks the text an engine would say.
      return { event: this.withAirableName(event), resolve, reject, truncated: n.truncated, text: stripEngineMarkup(stripEmotes(n.text, event.text, event.emotes)) };
    });

    // 1. Local checks and command lookup, then 2. one atomic Redis check for the whole batch:
    //    duplicates (across replicas and reconnects), rate limit, repeats, cooldowns.
    for (const i of items) this.prepare(i);
    const { capacity, perSecond } = config.chat.filter.rateLimit;
    const requests = items.map((i): ChatCheckRequest => {
      // An unknown channel names no key: its event is ignored, its mark kept under the default channel.
      const seen = seenId(i.event.platform, i.event.room ?? this.channelOf(i.event), i.event.id);
      if (i.check && !i.outcome) return Object.assign(i.check, { seen, check: true });
      return { seen, check: false };
    });
    // The backlog and the channels' voices do not depend on the check: fetched alongside it.
    const [{ results, forget }, reading, voices] = await Promise.all([
      chatBatchCheck(redis, { capacity, perMs: perSecond / 1000, repeatMs: config.chat.filter.repeatWindowMs, dedupeMs: config.chat.dedupeTtlMs, seenPrefix: keys.seenSlots }, requests),
      this.degradation.sample(),
      currentVoices(this.deps, items.filter((i) => !i.outcome).map((i) => this.channelOf(i.event))),
    ]);
    items.forEach((i, n) => {
      const r = results[n];
      if (r === 'duplicate') i.outcome = { decision: 'duplicate', reason: 'already seen' };
      else if (r !== 'ok' && !i.outcome) i.outcome = { decision: 'rejected', reason: String(r) };
    });

    // 3. Plan the jobs, degrading plain chat by the level (shed from 1, a short time-to-live from 2);
    //    the lines this batch adds count towards the backlog as they are planned.
    const { tts, scenes, effects, backlog } = this.plan(items, voices, reading.backlog);

    // 4. Enqueue, retried and (on a cluster) held until a replica has it; on failure take back what
    //    the check took (seen ids, repeat marks, cooldowns, tokens) so a redelivery is processed.
    try {
      await this.durable.run(async () => {
        // Built here from parsed events and config; the tts and scene workers validate each job.
        if (tts.length) await this.deps.queues.enqueueBulk('tts', tts, { validate: false });
        if (scenes.length) await this.deps.queues.enqueueBulk('scene', scenes, { validate: false });
      });
    } catch (err) {
      await forget().catch(() => {});
      throw err;
    }
    this.degradation.observe(backlog);
    for (const { item, fx } of effects) await this.applyEffects(item, fx);
    await this.offerToAi(items);
    await announce(items, (e) => this.channelOf(e), this.deps);
    this.finish(items);
  }

  /** Step 3 of a batch: the jobs and effects of every event still undecided, each given its decision. */
  private plan(items: Item[], voices: Map<string, string>, backlog: number): Plan {
    const plan: Plan = { tts: [], scenes: [], effects: [], shed: [], backlog };
    for (const i of items) {
      if (i.outcome) continue;
      const channel = this.channelOf(i.event);
      const voice = voices.get(channel) ?? this.deps.config.defaultVoice;
      if (i.command) this.planCommand(i, i.command, channel, voice, plan);
      else this.planLine(i, voice, plan);
    }
    const { load } = this.deps.config.chat;
    if (plan.shed.length && load.shedPolicy === 'summarise') {
      // At most one summary line every summaryEveryMs: under a steady stream of small batches a
      // summary per batch would be as many lines as the chat it replaces.
      this.shedSinceSummary += plan.shed.length;
      if (Date.now() >= this.nextSummaryAt) {
        plan.tts.push({ payload: this.summary(plan.shed, this.shedSinceSummary, voices, this.degradation.state.current.level) });
        this.shedSinceSummary = 0;
        this.nextSummaryAt = Date.now() + load.summaryEveryMs;
      }
    }
    return plan;
  }

  private planCommand(i: Item, cmd: NonNullable<Item['command']>, channel: string, voice: string, plan: Plan): void {
    const { config } = this.deps;
    const e = i.event;
    const def = this.commands.get(cmd.word)!;
    // Text typed in chat and spoken by !say/!voice is chat speech: shed and timed out like a plain message.
    const level = speaksChatText(def.builtin, cmd.args.length, e) ? this.degrade(i, plan.backlog, plan.shed) : null;
    if (level === 'shed') return;
    const fx = runCommand(def, cmd, e, { config, channel, voice, backlog: plan.backlog, utteranceId: (s) => utteranceIdFor(e, s) });
    // A viewer's command line may get a cheaper voice at level 3; a moderator's never does.
    const degradable = !e.paid && !hasPermission(e.user.roles, 'moderator');
    const ttl = level !== null && { expiresAt: e.acceptedAt + this.plainTtlMs(level ?? 0) };
    for (const t of fx.tts) plan.tts.push({ payload: { ...t.payload, ...(degradable && { degradable }), ...ttl }, opts: t.delay ? { delay: t.delay } : undefined });
    for (const s of fx.scenes) plan.scenes.push({ payload: s.payload, opts: s.delay ? { delay: s.delay } : undefined });
    plan.effects.push({ item: i, fx });
    plan.backlog += fx.tts.length;
    i.outcome = { decision: 'command', reason: def.name };
  }

  /** A reaction, or a plain line (shed by the degradation level), or a decision not to speak. */
  private planLine(i: Item, voice: string, plan: Plan): void {
    const { config } = this.deps;
    const e = i.event;
    const reaction = this.reaction(i, voice);
    if (reaction) {
      plan.tts.push({ payload: reaction });
      plan.backlog++;
      i.outcome = { decision: 'reaction', reason: `${e.paid ? 'paid' : e.kind}${i.withheld ? ` (text withheld: ${i.withheld})` : ''}` };
      return;
    }
    if (e.kind !== 'message') i.outcome = { decision: 'ignored', reason: `no reaction configured for ${e.kind}` };
    // A paid message without a paid reaction would be spoken as plain chat: not a withheld text.
    else if (i.withheld) i.outcome = { decision: 'rejected', reason: i.withheld };
    else if (!config.chat.speakPlainMessages) i.outcome = { decision: 'ignored', reason: 'plain messages are not spoken' };
    if (i.outcome) return;
    const level = this.degrade(i, plan.backlog, plan.shed);
    if (level === 'shed') return;
    plan.tts.push({ payload: this.plainLine(e, i.text, voice, level) });
    plan.backlog++;
    i.outcome = { decision: 'spoken', reason: i.truncated ? 'plain message (truncated)' : 'plain message' };
  }

  /** Local filter and command lookup; sets `outcome` when the event stops here, `check` for Redis. */
  private prepare(i: Item): void {
    const { config, keys } = this.deps;
    const e = i.event;
    if (i.outcome) return;
    if (!isConfigured(config.channels, e.channel)) {
      i.outcome = { decision: 'ignored', reason: 'unknown channel' };
      return;
    }
    if (e.kind === 'message' && !i.text) {
      i.outcome = { decision: 'ignored', reason: 'empty after normalisation' };
      return;
    }
    const skip = bypassed(e, config.chat.filter);
    // Paying buys a thank-you, never a slur or a link on air: the text of a paid or platform
    // event passes the content filter too, and is withheld (not the event) when it fails.
    if (e.paid || e.kind !== 'message') this.withholdUnsafe(i, skip);
    const cmd = e.kind === 'message' ? parseCommand(i.text, config.chat.commandPrefix) : undefined;
    const def = cmd && this.commands.get(cmd.word);
    if (cmd && !def) {
      i.outcome = { decision: 'ignored', reason: 'unknown command' };
      return;
    }
    if (def && !hasPermission(e.user.roles, def.permission)) {
      i.outcome = { decision: 'rejected', reason: 'permission' };
      return;
    }
    if (e.kind === 'message' && !e.paid) {
      const local = localFilter(i.text, e, config.chat.filter, skip);
      if (!local.ok) {
        i.outcome = { decision: 'rejected', reason: local.reason };
        return;
      }
      i.text = local.text;
    }
    if (cmd) i.command = parseCommand(i.text, config.chat.commandPrefix) ?? cmd;
    // Paid events and platform events are never rate limited: they are the stream's income.
    const limited = e.kind === 'message' && !e.paid;
    const user = e.user.id;
    const channel = this.channelOf(e);
    i.check = {
      seen: '', // set with the batch
      check: true,
      bucket: limited && !skip.has('rateLimit') ? keys.bucket(e.platform, user) : '',
      // Commands repeat by design; their cooldowns govern them, not the repeat window.
      recent: limited && !cmd && !skip.has('repeat') && config.chat.filter.repeatWindowMs > 0 ? keys.recent(e.platform, user, textHash(i.text)) : '',
      cooldown: def && def.cooldown.globalMs > 0 ? keys.cooldown(channel, def.name) : '',
      userCooldown: def && def.cooldown.userMs > 0 ? keys.cooldown(channel, def.name, `${e.platform}-${user}`) : '',
      globalMs: def?.cooldown.globalMs ?? 0,
      userMs: def?.cooldown.userMs ?? 0,
    };
  }

  /** The content filter on a paid or platform event's text: what fails is dropped, the event goes on. */
  private withholdUnsafe(i: Item, skip: ReadonlySet<FilterCheck>): void {
    if (!i.text) return;
    const checked = contentFilter(i.text, this.deps.config.chat.filter, skip);
    if (checked.ok) i.text = checked.text;
    else {
      i.withheld = checked.reason;
      i.text = '';
    }
  }

  /**
   * A display name airs too (thank-you lines, highlights, banners, captions): "someone" when,
   * as an engine would say it (without markup), it holds a banned word or is nothing but a link.
   * Otherwise it is kept as it is: the overlay shows it as text, engines strip their markup.
   */
  private withAirableName(e: ChatEvent): ChatEvent {
    const filter = this.deps.config.chat.filter;
    const spoken = stripEngineMarkup(e.user.displayName);
    if (!spoken) return e; // all markup: nothing an engine would say, shown as text
    const checked = contentFilter(spoken, filter, bypassed(e, filter));
    return checked.ok && checked.text === spoken ? e : { ...e, user: { ...e.user, displayName: 'someone' } };
  }

  private channelOf(e: ChatEvent): string {
    return isConfigured(this.deps.config.channels, e.channel) ? e.channel : this.deps.config.defaultChannel;
  }

  /** A plain chat line; `level` undefined for a moderator's (never degraded). */
  private plainLine(e: ChatEvent, text: string, voice: string, level: number | undefined): Payload<'tts'> {
    const { config } = this.deps;
    return {
      utteranceId: utteranceIdFor(e), channel: this.channelOf(e), text, voice, priority: config.chat.plainPriority,
      acceptedAt: e.acceptedAt, expiresAt: e.acceptedAt + this.plainTtlMs(level ?? 0), origin: { platform: e.platform, user: e.user.displayName },
      ...(level !== undefined && { degradable: true }),
    };
  }

  /**
   * Degrade one line of chat speech (a plain message or a viewer's !say) by the level: `shed`
   * from level 1 (its outcome set), else the level its time-to-live follows; undefined for a
   * moderator's line, which is never shed nor degraded.
   */
  private degrade(i: Item, backlog: number, shed: Item[]): number | 'shed' | undefined {
    if (hasPermission(i.event.user.roles, 'moderator')) return undefined;
    this.degradation.observe(backlog);
    const current = this.degradation.state.current;
    const { load } = this.deps.config.chat;
    if (current.level >= 1 && !(load.shedPolicy === 'sample' && this.sampled++ % load.sampleEvery === 0)) {
      shed.push(i);
      this.deps.metrics.chatShed.inc({ reason: current.cause ?? 'backlog' });
      i.outcome = { decision: 'shed', reason: this.shedReason(current) };
      return 'shed';
    }
    return current.level;
  }

  /** Plain chat's time-to-live: the short one from degradation level 2. */
  private plainTtlMs(level: number): number {
    const { load } = this.deps.config.chat;
    return level >= 2 ? Math.min(load.plainTtlMs, this.deps.config.degradation.shortTtlMs) : load.plainTtlMs;
  }

  private shedReason(r: Reading): string {
    const { config } = this.deps;
    const why = r.cause === 'redis_rtt' ? `redis round trip ${Math.round(r.rttMs)} ms` : `backlog ${r.backlog}`;
    return `degradation level ${r.level} (${LEVEL_NAMES[r.level]}): ${why} (${config.chat.load.shedPolicy})`;
  }

  /** Paid messages and platform events (follow, sub, raid, gift, Super Chat) get their configured line. */
  private reaction(i: Item, voice: string): Payload<'tts'> | undefined {
    const { config } = this.deps;
    const e = i.event;
    const r = e.paid && e.kind === 'message' ? config.chat.reactions.paid : e.kind !== 'message' ? configured(config.chat.reactions, e.kind) : undefined;
    if (!r) return undefined;
    const filled = fillTemplate(r.say, { user: stripEngineMarkup(e.user.displayName) || 'someone', amount: String(e.paid?.amount ?? ''), currency: e.paid?.currency ?? '', text: i.text, viewers: String(e.paid?.amount ?? '') });
    // "… cheered 100 bits: " with the text withheld (or none) ends at the amount, not at a colon.
    const text = normaliseText(i.text ? filled : filled.replace(/\s*[:,;–—-]\s*$/u, ''), config.tts.maxTextLength).text;
    return { utteranceId: utteranceIdFor(e), channel: this.channelOf(e), text, voice: r.voice ?? voice, priority: r.priority, acceptedAt: e.acceptedAt, origin: { platform: e.platform, user: e.user.displayName } };
  }

  /** Shed plain messages of a batch become one line, so a flood is still acknowledged on air. */
  private summary(shed: Item[], count: number, voices: Map<string, string>, level: number): Payload<'tts'> {
    const { config } = this.deps;
    const first = shed[0]!;
    const sample = first.text.split(' ').slice(0, 8).join(' ');
    const channel = this.channelOf(first.event);
    return {
      utteranceId: utteranceIdFor(first.event, 'summary'), channel, voice: voices.get(channel) ?? config.defaultVoice, priority: config.chat.plainPriority,
      text: count === 1 ? `${first.event.user.displayName} says ${sample}` : `Chat is busy: ${count} messages, like ${first.event.user.displayName} saying ${sample}`,
      acceptedAt: first.event.acceptedAt, expiresAt: first.event.acceptedAt + this.plainTtlMs(level), origin: { platform: first.event.platform, user: 'chat' }, degradable: true,
    };
  }

  private async applyEffects(i: Item, fx: CommandEffects): Promise<void> {
    const { redis, keys } = this.deps;
    const channel = this.channelOf(i.event);
    if (fx.setVoice) await setVoice(this.deps, channel, fx.setVoice);
    if (fx.control === 'clear') await markCleared(this.deps, channel);
    // !skip and !clear both stop the line on air (!clear also set the mark above: the backlog is dropped).
    if (fx.control) await redis.publish(keys.control(channel), JSON.stringify({ action: 'skip', by: i.event.user.login } satisfies ControlMessage));
    if (fx.emote) await setEmote(this.deps, channel, fx.emote, this.deps.config.channels[channel]!.video.avatar.expressionResetMs, i.event.user.login);
    const aiSaid = await this.ai.apply(i.event, channel, fx);
    for (const text of aiSaid ? [...fx.replies, aiSaid] : fx.replies) await this.deps.reply(i.event, text).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'reply failed'));
  }

  /** Messages that may get an AI reply go to the reply policy (a failure there never fails the batch: its speech is queued). */
  private async offerToAi(items: Item[]): Promise<void> {
    const decided = items.map((i) => ({ event: i.event, channel: this.channelOf(i.event), text: i.text, decision: i.outcome?.decision ?? '', reason: i.outcome?.reason ?? '', builtin: i.command && this.commands.get(i.command.word)?.builtin, rest: i.command?.rest }));
    await this.ai.offer(decided, this.degradation.state.current).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'AI reply offer failed'));
  }

  /** Each event's decision: resolved, logged, and counted (one counter update per platform and decision of the batch). */
  private finish(items: Item[]): void {
    const counts = new Map<string, { platform: string; decision: Decision; n: number }>();
    // Decisions log at info, duplicates at debug: with info off neither is written, so no fields are built.
    const logged = this.deps.log.isLevelEnabled('info');
    for (const i of items) {
      const o = i.outcome ?? { decision: 'ignored', reason: 'no decision' };
      const e = i.event;
      const key = `${e.platform}\u0000${o.decision}`;
      const count = counts.get(key);
      if (count) count.n++;
      else counts.set(key, { platform: e.platform, decision: o.decision, n: 1 });
      if (logged) {
        const fields = { platform: e.platform, room: e.room, messageId: e.id, user: e.user.login, kind: e.kind, decision: o.decision, reason: o.reason };
        if (o.decision === 'duplicate') this.deps.log.debug(fields, 'chat decision');
        else this.deps.log.info(fields, 'chat decision');
      }
      i.resolve(o);
    }
    for (const c of counts.values()) this.deps.metrics.chatDecisions.inc({ platform: c.platform, decision: c.decision }, c.n);
  }
}
