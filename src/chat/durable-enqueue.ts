import type { ProcessContext } from '../process';
import { masterIdOf, waitForReplicas } from '../redis';
import { sleep } from '../time';

const ENQUEUE_ATTEMPTS = 5;

/**
 * How the ingest makes a batch's jobs stick before it calls the batch accepted: the enqueue is
 * retried (a Redis hiccup must not lose accepted chat), and on a Redis Cluster it also waits
 * (WAIT) until `redis.cluster.acceptReplicas` replicas hold the batch. Replication is
 * asynchronous, so a master SIGKILLed right after a write takes that write with it; the WAIT
 * closes that window for what we promised a viewer. When the WAIT itself fails (the master is
 * dying), or answers from another master than the one asked before the enqueue (a failover in
 * between: that WAIT counts none of our writes), the whole enqueue is tried again: it lands on
 * the promoted replica, and the jobs' ids (utterance ids) make a re-add of a job that did
 * survive a no-op.
 * A master with no replica to wait for (after a failover, until the old master rejoins) costs
 * each batch `acceptWaitMs` and is logged when it starts and when it ends, not per batch.
 */
export class DurableEnqueue {
  private short = false;

  constructor(private readonly deps: Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'log'>) {}

  async run(enqueue: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const master = this.waits() ? await masterIdOf(this.deps.redis, this.deps.keys.speechOrder) : '';
        await enqueue();
        return await this.replicated(master);
      } catch (err) {
        if (attempt >= ENQUEUE_ATTEMPTS) throw err;
        this.deps.log.warn({ err: (err as Error).message, attempt }, 'enqueue failed: retrying');
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  private waits(): boolean {
    const { nodes, acceptReplicas } = this.deps.config.redis.cluster;
    return nodes.length > 0 && acceptReplicas > 0;
  }

  /** Throws when the batch may not be on a replica yet for reasons a retry fixes (the master changed under it). */
  private async replicated(before: string): Promise<void> {
    if (!this.waits()) return;
    const { acceptReplicas, acceptWaitMs } = this.deps.config.redis.cluster;
    // Every key of ours shares one hash tag, so any of them names the master that took the batch.
    const { acked, master } = await waitForReplicas(this.deps.redis, this.deps.keys.speechOrder, acceptReplicas, acceptWaitMs);
    // A WAIT on a newly promoted master counts none of the writes made to the old one: enqueue again.
    if (master !== before) throw new Error('the master changed during the enqueue');
    const short = acked < acceptReplicas;
    if (short && !this.short) this.deps.log.warn({ acked, wanted: acceptReplicas, waitedMs: acceptWaitMs }, 'accepted chat is on fewer replicas than asked: a master lost now would lose it');
    if (!short && this.short) this.deps.log.info({ acked }, 'accepted chat is on its replicas again');
    this.short = short;
  }
}
