import { controlMessageSchema, type ControlMessage } from '../../queues/live-events';
import type { ProcessContext } from '../process';
import { parsePubSub } from '../pubsub';
import { duplicate } from '../redis';

type Fault = Extract<ControlMessage, { action: 'inject' }>['fault'];

/** What the active broadcaster does for each operator control. */
export interface ControlActions {
  skip: (by: string | undefined) => void;
  /** A fault injected by a chaos run or a test (only when the config allows fault injection). */
  inject: (fault: Fault) => void;
  /** !emote: the avatar shows this expression for `holdMs`. */
  emote: (expression: string, holdMs: number) => void;
  /** A dump (src/ai/delay.ts): AI lines accepted until `at` are dropped; the line on air is cut if it is an AI line. */
  dump: (by: string | undefined, at: number) => void;
  /** Read the avatar pack again (a broken one keeps the avatar on the picture). */
  avatarReload: (by: string | undefined) => void;
}

/**
 * The controls a broadcaster listens to: operator messages (!skip, !clear, !emote, a dump, an
 * avatar reload) on the channel's control pub/sub, sent by the ingest, the control server and
 * the CLI; each listener acts on those it was given (the active broadcaster on all, every
 * broadcaster on the reload). Anything else there is ignored, and logged unless `logIgnored` is off
 * (one listener per process logs it).
 * Resolves once subscribed, so a control sent after the playout starts is never missed.
 */
export async function listenToControls(
  ctx: Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'log'>,
  channel: string,
  actions: Partial<ControlActions>,
  opts: { logIgnored: boolean } = { logIgnored: true },
): Promise<{ stop: () => Promise<void> }> {
  const { config, log } = ctx;
  const sub = duplicate(ctx.redis);
  sub.on('message', (redisChannel: string, raw: string) => {
    const message = parsePubSub(controlMessageSchema, raw, opts.logIgnored ? log : { warn: () => undefined }, redisChannel);
    // Chaos runs and tests break things on purpose; never honoured unless the process was started for it.
    if (message?.action === 'inject' && config.resolved?.faultInjection) actions.inject?.(message.fault);
    else if (message?.action === 'skip') actions.skip?.(message.by);
    else if (message?.action === 'emote') actions.emote?.(message.expression, message.holdMs);
    else if (message?.action === 'dump') actions.dump?.(message.by, message.at);
    else if (message?.action === 'avatar-reload') actions.avatarReload?.(message.by);
  });
  await sub.subscribe(ctx.keys.control(channel));
  return { stop: () => sub.quit().then(() => undefined, () => sub.disconnect()) };
}
