import { randomUUID } from 'node:crypto';
import type { Redis } from '../redis';
import type { AiConfig, Situation } from '../config/ai.schema';
import { requireChannel } from '../config/names';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { aiMetrics } from './ai-metrics';
import { aiKeys, viewerPart, type AiKeys } from './keys';

/** Why a message may get a reply, best first. */
export type ReplyReason = 'paid' | 'ask' | 'mention' | 'question' | 'first' | 'sampled';

/** Candidate order: paid > !ask > mention or question > first-timer > sampled. */
export const PRIORITY: Record<ReplyReason, number> = { paid: 5, ask: 4, mention: 3, question: 3, first: 2, sampled: 1 };

/** Scores are priority × SCORE_STEP + time (ms): within a priority the newest message wins. */
const SCORE_STEP = 1e13;
const PAID_FLOOR = PRIORITY.paid * SCORE_STEP;

/** A chat message offered for a reply (after the chat filter). `viewer` is the platform user id (`platform:id`). */
export interface ReplyMessage {
  id: string;
  viewer: string;
  name: string;
  text: string;
  paid?: boolean;
}

/** A message picked to answer: its text (without `!ask`), why, and the situation the reply is for. */
export interface Candidate extends ReplyMessage {
  reason: ReplyReason;
  situation: Situation;
  at: number;
}

export type Offer = { accepted: true; reason: ReplyReason; skipped: number } | { accepted: false; why: 'not picked' | 'user cooldown' };
export type Take = { candidate: Candidate; slot: string; skipped: number } | { candidate?: undefined; slot?: undefined; why: 'empty' | 'in flight' | 'cooldown'; skipped: number };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Patterns by the word they look for, built once: a flood classifies thousands of messages a second. */
const patterns = new Map<string, RegExp>();
function pattern(kind: 'ask' | 'mention' | 'mayMention', word: string): RegExp {
  const key = `${kind}\u0000${word}`;
  let re = patterns.get(key);
  if (!re) {
    if (kind === 'ask') re = new RegExp(`^${escapeRe(word)}(?:\\s+|$)`, 'i');
    else if (kind === 'mention') re = new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escapeRe(word)}($|[^\\p{L}\\p{N}_])`, 'iu');
    else re = new RegExp(escapeRe(word), 'i'); // the name anywhere: a cheap test before the word-boundary one
    if (patterns.size < 64) patterns.set(key, re); // a few personas' names and ask commands, from config
  }
  return re;
}

/**
 * Why a message should get a reply, or undefined: paid always; `!ask <text>`; the persona's name
 * as a word (or @name); a question; a viewer's first message; else a sampled share.
 */
export function classify(msg: ReplyMessage, opts: { cfg: AiConfig['reply']; personaName: string; firstTime: boolean; random: () => number }): { reason: ReplyReason; text: string } | undefined {
  const { cfg } = opts;
  const text = msg.text.trim();
  if (msg.paid) return { reason: 'paid', text };
  const ask = pattern('ask', cfg.askCommand);
  if (ask.test(text)) {
    const rest = text.replace(ask, '').trim();
    return rest ? { reason: 'ask', text: rest } : undefined;
  }
  if (pattern('mention', opts.personaName).test(text)) return { reason: 'mention', text };
  if (cfg.answerQuestions && /[?？]/.test(text)) return { reason: 'question', text };
  if (cfg.greetFirstTimers && opts.firstTime) return { reason: 'first', text };
  if (opts.random() < cfg.sampleRate) return { reason: 'sampled', text };
  return undefined;
}

/** The situation a reply is made for. */
export function situationFor(reason: ReplyReason): Situation {
  return reason === 'paid' ? 'paid' : reason === 'first' ? 'greeting' : 'reply';
}

// Viewers' first messages in a channel (ARGV from 4: one viewer per message, in order): entries
// past the TTL or the cap (oldest first) go. Returns 1 for each message that is its viewer's first.
const MARK_SEEN = `
local now, ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
local out = {}
for i = 4, #ARGV do out[#out + 1] = redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) end
local n = redis.call('ZCARD', KEYS[1])
if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1) end
redis.call('PEXPIRE', KEYS[1], ttl)
return out`;

// Add candidates in order (ARGV from 5, three per candidate: its viewer part when the viewer's
// cooldown applies, else '', score, member; a cooldown's key is ARGV[4] and the viewer part). A
// viewer cooling down adds nothing (-1); past the cap the lowest unpaid ones go (the count
// skipped to make room for each). Paid ones are never dropped.
const ADD = `
local floor, max = ARGV[1], tonumber(ARGV[2])
local out = {}
for a = 5, #ARGV, 3 do
  if ARGV[a] ~= '' and redis.call('EXISTS', ARGV[4] .. ARGV[a]) == 1 then out[#out + 1] = -1 else
    redis.call('ZADD', KEYS[1], ARGV[a + 1], ARGV[a + 2])
    local over = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. floor) - max
    if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1) else over = 0 end
    out[#out + 1] = over
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return out`;

// Take the best candidate: unpaid ones older than the window are skipped; expired slots (a
// worker that died) are freed; with every slot busy or the channel cooling down nothing is
// taken; else the best is popped, the other unpaid ones are skipped (paid ones wait), a slot
// and the channel cooldown are taken. Returns {member or false, why, skipped}.
const TAKE = `
local now, window, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local skipped = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. floor)) do
  local ok, c = pcall(cjson.decode, m)
  if not ok or tonumber(c.at) < now - window then skipped = skipped + redis.call('ZREM', KEYS[1], m) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {false, 'in flight', skipped} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {false, 'cooldown', skipped} end
local best = redis.call('ZPOPMAX', KEYS[1])
if #best == 0 then return {false, 'empty', skipped} end
skipped = skipped + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. floor)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if tonumber(ARGV[6]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[6]) end
return {best[1], '', skipped}`;

// A slot without a candidate (idle talk): free expired slots, take one if any is free.
const CLAIM_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/**
 * Who gets a reply, shared by every replica through Redis. Chat ingest `offer`s each filtered
 * message: it is classified (see `classify`; a viewer's first message in the channel is known
 * from a bounded first-seen set) and, unless the viewer is cooling down, kept as a candidate. The
 * reply worker `take`s the best candidate of the last `pickWindowMs` when a slot is free
 * (`maxInFlight` per channel, each slot expiring after `slotTtlMs` so a crashed worker cannot
 * leak one) and the channel is not cooling down; the unpaid candidates it passed over are
 * skipped and counted. Paid messages are never skipped nor cooled down: they wait for a slot.
 */
export class ReplyPolicy {
  readonly keys: AiKeys;

  private readonly skippedTotal?: ReturnType<typeof aiMetrics>['skipped'];

  /** With `metrics`, skipped candidates are counted in `idolcast_ai_skipped_total` too. */
  constructor(private readonly deps: { config: Config; redis: Redis; log: Logger; metrics?: Metrics; random?: () => number; now?: () => number }) {
    this.keys = aiKeys(deps.config.redis.prefix);
    this.skippedTotal = deps.metrics ? aiMetrics(deps.metrics).skipped : undefined;
  }

  private countSkipped(channel: string, n: number): void {
    if (n > 0) this.skippedTotal?.inc({ channel }, n);
  }

  private get cfg() {
    return this.deps.config.ai.reply;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** For each viewer, whether this is their first message in the channel (and remember them). */
  private async firstTimes(channel: string, viewers: string[]): Promise<boolean[]> {
    const added = (await this.deps.redis.eval(MARK_SEEN, 1, this.keys.firstSeen(channel), this.now(), this.cfg.firstSeenTtlMs, this.cfg.firstSeenMax, ...viewers.map(viewerPart))) as number[];
    return added.map((a) => Number(a) === 1);
  }

  /** How much a message asks for a reply before the first-timer lookup: its PRIORITY, or 0 (paid 5, !ask 4, mention or question 3). */
  rank(msg: ReplyMessage, personaName = this.deps.config.ai.personas[this.deps.config.ai.defaultPersona]!.name): number {
    // Most of a flood is none of paid, !ask, mention or question: three cheap tests say so first.
    const text = msg.text;
    if (!msg.paid && !text.includes('?') && !text.includes('？') && !pattern('mayMention', personaName).test(text) && text.trimStart().charAt(0).toLowerCase() !== this.cfg.askCommand.charAt(0)) return 0;
    const picked = classify(msg, { cfg: this.cfg, personaName, firstTime: false, random: () => 1 });
    return picked ? PRIORITY[picked.reason] : 0;
  }

  /** Offer a filtered chat message for a reply. `skipped`: lower candidates dropped to make room. */
  async offer(channel: string, msg: ReplyMessage, personaName?: string): Promise<Offer> {
    return (await this.offerMany(channel, [msg], personaName))[0]!;
  }

  /** Offer a batch of one channel's messages, in the order they were said: two script calls for the lot. */
  async offerMany(channel: string, msgs: readonly ReplyMessage[], personaName = this.deps.config.ai.personas[this.deps.config.ai.defaultPersona]!.name): Promise<Offer[]> {
    requireChannel(this.deps.config, channel);
    if (!msgs.length) return [];
    const first = await this.firstTimes(channel, msgs.map((m) => m.viewer));
    const random = this.deps.random ?? Math.random;
    const at = this.now();
    const offered = msgs.flatMap((msg, n) => {
      const picked = classify(msg, { cfg: this.cfg, personaName, firstTime: first[n]!, random });
      return picked ? [{ n, candidate: { ...msg, text: picked.text, reason: picked.reason, situation: situationFor(picked.reason), at } satisfies Candidate }] : [];
    });
    const results: Offer[] = msgs.map(() => ({ accepted: false, why: 'not picked' }));
    if (!offered.length) return results;
    const args = offered.flatMap(({ candidate: c }) => [c.reason === 'paid' ? '' : viewerPart(c.viewer), PRIORITY[c.reason] * SCORE_STEP + at, JSON.stringify(c)]);
    // The key lives while candidates arrive; paid ones wait far past the window, so a day.
    const added = (await this.deps.redis.eval(ADD, 1, this.keys.candidates(channel), PAID_FLOOR, this.cfg.maxCandidates, 24 * 3600_000, this.keys.userCooldownPrefix(channel), ...args)) as number[];
    offered.forEach((o, j) => {
      const skipped = Number(added[j]);
      this.countSkipped(channel, Math.max(0, skipped));
      results[o.n] = skipped < 0 ? { accepted: false, why: 'user cooldown' } : { accepted: true, reason: o.candidate.reason, skipped };
    });
    return results;
  }

  /** Take the best candidate and a reply slot (give it back with `release`), or say why not. */
  async take(channel: string): Promise<Take> {
    requireChannel(this.deps.config, channel);
    const k = this.keys;
    const slot = randomUUID();
    const [member, why, skipped] = (await this.deps.redis.eval(TAKE, 3, k.candidates(channel), k.inFlight(channel), k.channelCooldown(channel), this.now(), this.cfg.pickWindowMs, PAID_FLOOR, this.cfg.maxInFlight, this.cfg.slotTtlMs, this.cfg.channelCooldownMs, slot)) as [string | null, string, number];
    this.countSkipped(channel, skipped);
    if (!member) return { why: why as 'empty' | 'in flight' | 'cooldown', skipped };
    const candidate = JSON.parse(member) as Candidate;
    if (this.cfg.userCooldownMs > 0 && candidate.reason !== 'paid') await this.deps.redis.set(k.userCooldown(channel, candidate.viewer), '1', 'PX', this.cfg.userCooldownMs);
    if (skipped) this.deps.log.info({ channel, skipped, picked: candidate.reason }, 'reply candidates skipped for a better one');
    return { candidate, slot, skipped };
  }

  /**
   * A reply slot for the idol's own words (idle talk), only while the channel has no candidate
   * waiting and a slot is free: chat comes first. Give it back with `release`.
   */
  async claimSlot(channel: string): Promise<string | undefined> {
    requireChannel(this.deps.config, channel);
    if ((await this.deps.redis.zcard(this.keys.candidates(channel))) > 0) return undefined;
    const slot = randomUUID();
    const got = await this.deps.redis.eval(CLAIM_SLOT, 1, this.keys.inFlight(channel), this.now(), this.cfg.maxInFlight, this.now() + this.cfg.slotTtlMs, this.cfg.slotTtlMs, slot);
    return Number(got) === 1 ? slot : undefined;
  }

  /** Give back a reply slot once the reply has aired (or failed). */
  async release(channel: string, slot: string): Promise<void> {
    requireChannel(this.deps.config, channel);
    await this.deps.redis.zrem(this.keys.inFlight(channel), slot);
  }

  /** Replies in flight in a channel (slots not expired), and candidates waiting. */
  async depth(channel: string): Promise<{ inFlight: number; waiting: number }> {
    requireChannel(this.deps.config, channel);
    const [inFlight, waiting] = await Promise.all([this.deps.redis.zcount(this.keys.inFlight(channel), this.now(), '+inf'), this.deps.redis.zcard(this.keys.candidates(channel))]);
    return { inFlight, waiting };
  }
}
