import type { ProcessContext } from '../process';
import { Leadership } from './leadership';
import { LineInterrupted } from './on-air';

/**
 * Taking over and handing over a channel. Replicas of one channel are hot standbys: one holds the
 * channel's lock (with a fencing token) and broadcasts, the others wait for it and take over when
 * it lapses. Losing the lock to another broadcaster is reported to the caller, whose process
 * lifecycle ends the process (it comes back as a standby); handing over releases the lock so a
 * standby takes over at once instead of waiting for the lease to run out.
 */
export class ChannelLock {
  readonly lead: Leadership;

  constructor(
    private readonly ctx: Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'log' | 'id'>,
    private readonly channel: string,
  ) {
    const { config, redis, keys, log } = ctx;
    this.lead = new Leadership(redis, { lock: keys.broadcastLeader(channel), fence: keys.broadcastFence(channel) }, ctx.id, config.playout.leaderLockMs, log);
  }

  /**
   * Wait for the channel (undefined: `cancelled` first), then keep renewing it. `lost`: someone
   * else broadcasts now; `fence`: the token changed after a lapse nobody else used.
   */
  async takeOver(cancelled: () => boolean, on: { lost: () => void; fence: (token: number) => void }): Promise<number | undefined> {
    const { log } = this.ctx;
    const { lead, channel } = this;
    const token = await lead.acquire(cancelled);
    if (token === undefined) return undefined;
    lead.on('lost', ({ by, token: fence }) => {
      // Stop pushing at once (no graceful drain); the line on air goes back to the queue for the
      // new holder, and we come back as a standby (exit 1: restarted).
      log.error({ channel, fence, why: `taken by ${by}` }, 'lost the broadcast lock: stopping');
      on.lost();
    });
    lead.on('regained', ({ lateMs, expired, token: fence }) => {
      // Starved past the lease (output dropped meanwhile) with nobody else to take over: carry on.
      on.fence(fence);
      log.warn({ channel, fence, lateMs, why: expired ? 'expired, nobody else held it: taken again' : 'renewal came late, still ours' }, 'broadcast lease lapsed: output dropped meanwhile');
    });
    lead.keep();
    return token;
  }

  /** Rejects when the channel is taken by another broadcaster (at once if it already was). */
  whenTaken(): Promise<never> {
    const { lead } = this;
    const taken = (by: string) => new LineInterrupted(`the channel was taken by ${by}`);
    const lost = lead.lostTo ? Promise.reject(taken(lead.lostTo)) : new Promise<never>((_, reject) => lead.once('lost', ({ by }) => reject(taken(by))));
    lost.catch(() => {});
    return lost;
  }

  /** Hand the channel over: the standby takes over at once. */
  async handOver(): Promise<void> {
    await this.lead.release();
  }
}
