import { createHash } from 'node:crypto';

/**
 * A viewer id as it may appear in a key: platform ids as they are, anything else (long, odd
 * characters) hashed, so keys stay short and plain. Idempotent: a part passes through as it is.
 */
export function viewerPart(viewer: string): string {
  return /^[A-Za-z0-9_.:@-]{1,100}$/.test(viewer) || /^h~[0-9a-f]{32}$/.test(viewer) ? viewer : `h~${createHash('sha256').update(viewer).digest('hex').slice(0, 32)}`;
}

/**
 * The Redis keys of the AI mind (memory, reply policy, kill switch, idle talk, broadcast delay). Every one that
 * holds a viewer's data has the channel in it, so nothing crosses channels; channels come from
 * config (callers check them), viewer ids go through `viewerPart`.
 */
export function aiKeys(prefix: string) {
  const p = `${prefix}:ai`;
  return {
    /** The channel's recent conversation (list of JSON turns, oldest first). */
    conversation: (channel: string) => `${p}:conv:${channel}`,
    /** Viewers with memory in a channel by last seen (ZSET), for the cap and for idle topics. */
    viewers: (channel: string) => `${p}:viewers:${channel}`,
    /** A viewer's summary (hash: summary, updatedAt); the prefix is for scripts that add the viewer part themselves. */
    summary: (channel: string, viewer: string) => `${p}:summary:${channel}:${viewerPart(viewer)}`,
    summaryPrefix: (channel: string) => `${p}:summary:${channel}:`,
    /** A viewer's lines waiting for the next summary update (list). */
    lines: (channel: string, viewer: string) => `${p}:lines:${channel}:${viewerPart(viewer)}`,
    linesPrefix: (channel: string) => `${p}:lines:${channel}:`,
    /** Viewers seen in a channel by first-seen time (ZSET, trimmed), for greetings. */
    firstSeen: (channel: string) => `${p}:firstseen:${channel}`,
    /** Reply candidates of a channel (ZSET by priority then time). */
    candidates: (channel: string) => `${p}:candidates:${channel}`,
    /** Reply slots in use in a channel (ZSET token → expiry ms). */
    inFlight: (channel: string) => `${p}:inflight:${channel}`,
    /** A channel's reply cooldown (SET NX PX). */
    channelCooldown: (channel: string) => `${p}:cd:${channel}`,
    /** A viewer's reply cooldown in a channel (SET PX). */
    userCooldown: (channel: string, viewer: string) => `${p}:cd:${channel}:${viewerPart(viewer)}`,
    userCooldownPrefix: (channel: string) => `${p}:cd:${channel}:`,
    /** The fleet-wide kill switch (hash: on, by, at; no TTL: kept across restarts). */
    switch: `${p}:switch`,
    /** One reply's note for the playout (hash: lines queued, done; expires with the reply slot; src/ai/reply-air.ts). */
    reply: (channel: string, slot: string) => `${p}:reply:${channel}:${slot}`,
    /** AI lines of a channel in the broadcast delay (ZSET line id → due ms; src/ai/delay.ts). */
    delay: (channel: string) => `${p}:delay:${channel}`,
    /** Idle talk state of a channel (hash: lastChatAt, source cursor). */
    idle: (channel: string) => `${p}:idle:${channel}`,
    /** Idle lines of a channel in the last hour (ZSET of times), for the budget. */
    idleTimes: (channel: string) => `${p}:idle-times:${channel}`,
    /** Topics of the configured list not used yet in this round (set). */
    idleTopics: (channel: string) => `${p}:idle-topics:${channel}`,
    /** The engine that wrote a channel's last reply (hash: engine, at), for `idolcast status`. */
    lastEngine: (channel: string) => `${p}:last-engine:${channel}`,
  };
}
export type AiKeys = ReturnType<typeof aiKeys>;
