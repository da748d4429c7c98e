import type { Redis } from '../redis';
import { isAiLine, type Utterance } from '../../queues/utterance.schema';
import { aiKeys } from './keys';

/*
 * The sentences of one reply air together. The reply worker voices a reply sentence by sentence
 * while the model writes, so after one sentence has aired the next may not be ready yet (the
 * model or the voice is slower than the speech, or it still waits out the broadcast delay); the
 * playout would then air whatever else is waiting (a `!say`, a command) between the two. So the
 * reply worker keeps a small note per reply in Redis (how many lines it queued, whether it has
 * finished), and the playout, having aired a reply's line, puts any other line back for a moment
 * while that reply's next line is still to come, for at most REPLY_GAP_MAX_MS after its last
 * line ended. Kept simple on purpose: the note of the reply on air is the broadcaster's own (a
 * restarted broadcaster does not hold), and a reply's very first line is not held for.
 */

/** The reply worker's line ids: `ai-<slot>-<n>`. */
export const replyLineId = (slot: string, n: number) => `ai-${slot}-${n}`;

function parseLine(u: Pick<Utterance, 'utteranceId' | 'origin'>): { slot: string; index: number } | undefined {
  const m = isAiLine(u) ? /^ai-(.+)-(\d+)$/.exec(u.utteranceId) : null;
  return m ? { slot: m[1]!, index: Number(m[2]) } : undefined;
}

/** The reply worker's side: the note of one reply, bounded by the reply slot's lifetime. */
export function replyNote(redis: Redis, prefix: string, channel: string, slot: string, ttlMs: number) {
  const key = aiKeys(prefix).reply(channel, slot);
  return {
    open: async () => void (await redis.multi().hset(key, { lines: 0, done: 0 }).pexpire(key, ttlMs).exec()),
    lineQueued: async () => void (await redis.hincrby(key, 'lines', 1)),
    done: async () => void (await redis.hset(key, 'done', 1)),
  };
}

/** How long the playout holds other lines for a reply's next line, after the reply's last line ended. */
export const REPLY_GAP_MAX_MS = 10_000;
/** How soon a line put back for a reply is looked at again. */
export const REPLY_GAP_POLL_MS = 200;

/** The broadcaster's side: the reply whose line aired last, and whether a line must wait for it. */
export class ReplyOnAir {
  private last?: { slot: string; index: number; endedAt: number };

  constructor(private readonly deps: { redis: Redis; prefix: string; channel: string }) {}

  /** A line finished airing: an AI reply's line makes that reply the one on air; any other line ends it. */
  aired(u: Pick<Utterance, 'utteranceId' | 'origin'>, now = Date.now()): void {
    const line = parseLine(u);
    this.last = line && { ...line, endedAt: now };
  }

  /** The reply on air is over for the playout (a dump or a skip): nothing waits for it any more. */
  forget(): void {
    this.last = undefined;
  }

  /** Whether `u` must wait: a reply is on air, its next line is still to come, and `u` is not that line. */
  async holds(u: Pick<Utterance, 'utteranceId' | 'origin'>, now = Date.now()): Promise<boolean> {
    const last = this.last;
    if (!last) return false;
    const line = parseLine(u);
    if (line?.slot === last.slot && line.index === last.index + 1) return false;
    if (now - last.endedAt <= REPLY_GAP_MAX_MS && (await this.moreToCome(last))) return true;
    this.forget();
    return false;
  }

  /** The reply worker queued a line after `last`, or has not finished; no note (expired, never written): nothing more is known to come. */
  private async moreToCome(last: { slot: string; index: number }): Promise<boolean> {
    const [lines, done] = await this.deps.redis.hmget(aiKeys(this.deps.prefix).reply(this.deps.channel, last.slot), 'lines', 'done');
    if (lines === null) return false;
    return done !== '1' || Number(lines) > last.index + 1;
  }
}
