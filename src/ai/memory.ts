import { createHash } from 'node:crypto';
import type { Redis } from '../redis';
import { requireChannel } from '../config/names';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import { aiKeys, viewerPart, type AiKeys } from './keys';
import type { ConversationTurn } from './prompt';

/** One stored conversation line: display name and viewer id (absent for the idol's own lines), text, its length, time. */
interface StoredTurn {
  u?: string;
  v?: string;
  t: string;
  n: number;
  at: number;
}

/** A viewer's message as the memory takes it: `viewer` is the platform's stable user id (`platform:id`), `name` the display name. */
export interface ViewerLine {
  viewer: string;
  name: string;
  text: string;
}

/** Longest text and name stored (the chat filter bounds them already; this bounds Redis whatever the caller). */
const MAX_TEXT = 600;
const MAX_NAME = 50;

// Push turns (ARGV[4] on, oldest first), keep the newest `turns`, then drop the oldest while
// their text is over the character bound (tokens × 4), always keeping the newest; refresh the
// TTL. The same as pushing them one by one: each step keeps the longest suffix within bounds.
const APPEND_TURNS = `
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local sizes, total = {}, 0
for i = 1, #items do sizes[i] = tonumber(cjson.decode(items[i]).n) or 0; total = total + sizes[i] end
local drop, max = 0, tonumber(ARGV[2])
while total > max and drop < #items - 1 do drop = drop + 1; total = total - sizes[drop] end
if drop > 0 then redis.call('LTRIM', KEYS[1], drop, -1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return #items - drop`;

// Note viewers' lines for their next summaries (KEYS[1] the viewers; ARGV from 7, per line: the
// viewer part, the line; their keys are the prefixes in ARGV[5] and [6] and the viewer part, so
// a flood's call carries half the arguments): last seen, their waiting lines (newest kept), the
// summary's TTL renewed (its age counts from their last chat); viewers unseen for the TTL and
// those past the cap (longest unseen first) are forgotten with their keys. Returns each line's
// count of waiting lines.
const NOTE_LINES = `
local now, ttl, cap, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for a = 7, #ARGV, 2 do
  local viewer = ARGV[a]
  local lines = ARGV[6] .. viewer
  redis.call('ZADD', KEYS[1], now, viewer)
  local len = redis.call('RPUSH', lines, ARGV[a + 1])
  if len > keep then redis.call('LTRIM', lines, -keep, -1); len = keep end
  redis.call('PEXPIRE', lines, ttl)
  redis.call('PEXPIRE', ARGV[5] .. viewer, ttl)
  out[#out + 1] = len
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
local n = redis.call('ZCARD', KEYS[1])
if n > cap then
  local gone = redis.call('ZRANGE', KEYS[1], 0, n - cap - 1)
  for _, v in ipairs(gone) do redis.call('DEL', ARGV[5] .. v, ARGV[6] .. v) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
end
redis.call('PEXPIRE', KEYS[1], ttl)
return out`;

// Forget a viewer in one channel: summary, waiting lines, index and first-seen entries, and
// their lines in the conversation. Returns how many things were deleted.
const FORGET = `
local n = redis.call('DEL', KEYS[1], KEYS[2]) + redis.call('ZREM', KEYS[3], ARGV[1]) + redis.call('ZREM', KEYS[5], ARGV[1])
for _, item in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  local ok, turn = pcall(cjson.decode, item)
  if ok and turn.v == ARGV[1] then n = n + redis.call('LREM', KEYS[4], 0, item) end
end
return n`;

// Store a new summary only while the lines it was made from are still the first waiting (a
// `forget` during the model call deleted them, and lines said after it carry other times: then
// nothing is written back), and drop those lines.
const STORE_SUMMARY = `
local n = tonumber(ARGV[3])
local made = redis.call('LRANGE', KEYS[2], 0, n - 1)
if #made ~= n or redis.sha1hex(table.concat(made, '\\n')) ~= ARGV[5] then return 0 end
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('HSET', KEYS[1], 'summary', ARGV[1], 'updatedAt', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
redis.call('LTRIM', KEYS[2], n, -1)
return 1`;

/** A viewer's waiting lines as a summary job read them: the texts, and a stamp that names exactly those stored lines. */
export interface WaitingLines {
  texts: string[];
  count: number;
  stamp: string;
}

/**
 * What the idol remembers, in Redis (so it survives restarts), per channel: the recent
 * conversation, bounded by `ai.memory.turns` and by about `maxTokens` tokens (estimated as
 * characters / 4, the same rough rule as the token budget), and per viewer a short summary of
 * what they said about themselves with the lines waiting for its next update, expiring
 * `summaryTtlMs` after their last chat, at most `maxViewersPerChannel` viewers per channel.
 * Every key has the channel in it, so memory never crosses channels; a viewer is their platform
 * user id (`platform:id`), so `forget` without a channel removes them from every channel.
 */
export class Memory {
  readonly keys: AiKeys;

  constructor(
    private readonly deps: { config: Config; redis: Redis; log: Logger; now?: () => number },
  ) {
    this.keys = aiKeys(deps.config.redis.prefix);
  }

  private get cfg() {
    return this.deps.config.ai.memory;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Turns into the conversation, oldest first: only the newest `turns` can stay, so only they are sent. */
  private async appendTurns(channel: string, turns: Omit<StoredTurn, 'n' | 'at'>[]): Promise<void> {
    if (this.cfg.turns === 0 || !turns.length) return;
    const at = this.now();
    const stored = turns.slice(-this.cfg.turns).map((turn): string => {
      const st: StoredTurn = { ...turn, n: turn.t.length, at };
      if (st.u !== undefined) st.u = st.u.slice(0, MAX_NAME);
      return JSON.stringify(st);
    });
    await this.deps.redis.eval(APPEND_TURNS, 1, this.keys.conversation(channel), this.cfg.turns, this.cfg.maxTokens * 4, this.cfg.conversationTtlMs, ...stored);
  }

  /**
   * A viewer's chat line (after the chat filter): into the conversation and their waiting lines.
   * Returns how many lines wait for their summary; at `summaryEvery` or more, run `updateSummary`.
   */
  async recordMessage(channel: string, raw: ViewerLine): Promise<number> {
    return (await this.recordMessages(channel, [raw]))[0]!;
  }

  /**
   * A batch of chat lines of one channel, in the order they were said: two script calls for the
   * lot, so a flood costs what one line does. Returns each line's count of waiting lines.
   */
  async recordMessages(channel: string, raws: readonly ViewerLine[]): Promise<number[]> {
    requireChannel(this.deps.config, channel);
    if (!raws.length) return [];
    const lines = raws.map((raw) => ({ ...raw, text: raw.text.slice(0, MAX_TEXT), part: viewerPart(raw.viewer) }));
    const k = this.keys;
    const now = this.now();
    const perLine = lines.flatMap((line) => [line.part, JSON.stringify({ t: line.text, at: now })]);
    // Two independent writes sent together: one round trip for the batch, not two.
    const [, waiting] = await Promise.all([
      this.appendTurns(channel, lines.map((line) => ({ u: line.name, v: line.part, t: line.text }))),
      this.deps.redis.eval(NOTE_LINES, 1, k.viewers(channel), now, this.cfg.summaryTtlMs, this.cfg.maxViewersPerChannel, this.cfg.viewerLines, k.summaryPrefix(channel), k.linesPrefix(channel), ...perLine) as Promise<number[]>,
    ]);
    return waiting.map(Number);
  }

  async recordReply(channel: string, text: string): Promise<void> {
    requireChannel(this.deps.config, channel);
    await this.appendTurns(channel, [{ t: text.slice(0, MAX_TEXT) }]);
  }

  /** The channel's recent conversation, oldest first, as the prompt builder takes it. */
  async history(channel: string): Promise<ConversationTurn[]> {
    requireChannel(this.deps.config, channel);
    const items = await this.deps.redis.lrange(this.keys.conversation(channel), 0, -1);
    return items.flatMap((item) => {
      try {
        const t = JSON.parse(item) as StoredTurn;
        return [t.u === undefined ? { text: t.t } : { user: t.u, text: t.t }];
      } catch {
        return [];
      }
    });
  }

  /** What the idol remembers about a viewer in a channel ('' for nothing). */
  async summary(channel: string, viewer: string): Promise<string> {
    requireChannel(this.deps.config, channel);
    return (await this.deps.redis.hget(this.keys.summary(channel, viewer), 'summary')) ?? '';
  }

  /** A viewer's lines waiting for the next summary update, oldest first. */
  async waitingLines(channel: string, viewer: string): Promise<WaitingLines> {
    requireChannel(this.deps.config, channel);
    const raw = await this.deps.redis.lrange(this.keys.lines(channel, viewer), 0, -1);
    const texts = raw.map((r) => {
      try {
        return String((JSON.parse(r) as { t: unknown }).t);
      } catch {
        return '';
      }
    });
    return { texts, count: raw.length, stamp: createHash('sha1').update(raw.join('\n')).digest('hex') };
  }

  /** Store a summary made from `made` ('' deletes it); false when those lines are gone (the viewer was forgotten meanwhile). */
  async storeSummary(channel: string, viewer: string, summary: string, made: WaitingLines): Promise<boolean> {
    requireChannel(this.deps.config, channel);
    const stored = await this.deps.redis.eval(STORE_SUMMARY, 2, this.keys.summary(channel, viewer), this.keys.lines(channel, viewer), summary, this.now(), made.count, this.cfg.summaryTtlMs, made.stamp);
    return Number(stored) === 1;
  }

  /** A remembered viewer's summary, picked at random among a channel's (for idle talk), if any. */
  async randomSummary(channel: string): Promise<string | undefined> {
    requireChannel(this.deps.config, channel);
    const viewers = await this.deps.redis.zrandmember(this.keys.viewers(channel), 3);
    for (const v of viewers ?? []) {
      const s = await this.deps.redis.hget(this.keys.summary(channel, v), 'summary');
      if (s) return s;
    }
    return undefined;
  }

  /**
   * Delete a viewer's memory at once (`!forgetme`): their summary, waiting lines, first-seen
   * entry and their lines in the conversation, in one channel or (no channel) in every channel
   * of the config. The idol's own replies to them stay in the conversation until it rolls over.
   * Returns how many entries were deleted.
   */
  async forget(channel: string | undefined, viewer: string): Promise<number> {
    const channels = channel === undefined ? Object.keys(this.deps.config.channels) : [channel];
    channels.forEach((c) => requireChannel(this.deps.config, c));
    let deleted = 0;
    for (const c of channels) {
      const k = this.keys;
      deleted += Number(await this.deps.redis.eval(FORGET, 5, k.summary(c, viewer), k.lines(c, viewer), k.viewers(c), k.conversation(c), k.firstSeen(c), viewerPart(viewer)));
    }
    this.deps.log.info({ channels: channels.length, deleted }, 'viewer memory forgotten');
    return deleted;
  }
}
