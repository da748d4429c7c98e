import type { ChatEvent } from '../../queues/chat-event.schema';
import type { ProcessContext } from '../process';

/** The overlay's banner kind of each platform event. */
const BANNER_KINDS = { follow: 'follow', subscription: 'sub', raid: 'raid', gift: 'gift', superchat: 'superchat' } as const;

/** What the announcer needs of one event's way through a batch. */
interface Announced {
  event: ChatEvent;
  /** The text as it may be shown (normalised, cut). */
  text: string;
  outcome?: { decision: string };
}

/**
 * Platform events (follow, sub, raid, gift, Super Chat) become `banner` events and paid
 * messages `highlight` events on the channel's live events, for the overlay. Never fails a batch.
 */
export async function announce(items: Announced[], channelOf: (e: ChatEvent) => string, deps: Pick<ProcessContext, 'publish' | 'log'>): Promise<void> {
  const out: Promise<void>[] = [];
  for (const i of items) {
    const d = i.outcome?.decision;
    if (d === 'duplicate' || d === 'rejected') continue;
    const e = i.event;
    const paid = e.paid && { amount: e.paid.amount, currency: e.paid.currency };
    if (e.kind !== 'message') out.push(deps.publish(channelOf(e), { type: 'banner', kind: BANNER_KINDS[e.kind], user: e.user.displayName, ...paid, ...(e.kind === 'superchat' && i.text && { text: i.text }) }));
    else if (e.paid) out.push(deps.publish(channelOf(e), { type: 'highlight', user: e.user.displayName, text: i.text, ...paid }));
  }
  if (!out.length) return;
  const failed = (await Promise.allSettled(out)).filter((r) => r.status === 'rejected');
  if (failed.length) deps.log.warn({ failed: failed.length, err: String((failed[0] as PromiseRejectedResult).reason) }, 'could not announce chat events to the overlay');
}
