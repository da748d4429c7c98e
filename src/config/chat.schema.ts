import { z } from 'zod';
import { durationMs } from './fields';

/** Roles from lowest to highest, for command permissions. */
export const PERMISSIONS = ['everyone', 'subscriber', 'vip', 'moderator', 'broadcaster'] as const;
export type Permission = (typeof PERMISSIONS)[number];
/** Filter checks that roles may be configured to bypass. */
const FILTER_CHECKS = ['rateLimit', 'repeat', 'links', 'caps', 'symbols', 'emotes', 'bannedWords'] as const;
export const BUILTIN_COMMANDS = ['say', 'voice', 'scene', 'commands', 'queue', 'skip', 'clear', 'ask', 'ai', 'dump', 'forgetme', 'emote'] as const;

const filterSchema = z
  .strictObject({
    /** Per-user token bucket: burst size and sustained messages per second. */
    rateLimit: z.strictObject({ capacity: z.number().min(1).default(4), perSecond: z.number().positive().default(0.5) }).prefault({}),
    /** The same user repeating the same text within this window is suppressed. */
    repeatWindowMs: durationMs(30000),
    /** Links: `strip` removes them from the text, `block` rejects the message, `allow` keeps them. */
    links: z.enum(['strip', 'block', 'allow']).default('strip'),
    /** Share of capital letters (of letters, in messages with at least 12) above which a message is rejected. */
    maxCapsRatio: z.number().min(0).max(1).default(0.7),
    /** Share of symbols (not letters, digits or spaces) above which a message is rejected. */
    maxSymbolRatio: z.number().min(0).max(1).default(0.5),
    /** More emotes than this in one message is a flood. */
    maxEmotes: z.number().int().min(0).default(8),
    /** Messages containing any of these words (case-insensitive, whole words) are rejected. */
    bannedWords: z.array(z.string().min(1)).default([]),
    /** Checks each role skips. */
    bypass: z
      .partialRecord(z.enum(['broadcaster', 'moderator', 'vip', 'subscriber', 'member']), z.array(z.enum(FILTER_CHECKS)))
      .default({ broadcaster: [...FILTER_CHECKS], moderator: ['rateLimit', 'repeat', 'links', 'caps', 'symbols', 'emotes'] }),
  })
  .prefault({});

const actionSchema = z.union([
  z.strictObject({
    /** A line to speak; {user}, {args}, {arg1}… are filled in (as text, never markup). */
    say: z.string().min(1).max(2000),
    voice: z.string().optional(),
    priority: z.number().int().min(0).max(9).optional(),
    /** Offset from the command, for sequences. */
    atMs: z.number().int().min(0).max(3_600_000).optional(),
  }),
  z.strictObject({ scene: z.string().min(1).max(100), atMs: z.number().int().min(0).max(3_600_000).optional() }),
]);

const cooldownSchema = z.strictObject({ globalMs: durationMs(0), userMs: durationMs(0) }).prefault({});

const commandSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]{1,32}$/, 'a command name: a-z 0-9 _'),
  aliases: z.array(z.string().regex(/^[a-z0-9_]{1,32}$/)).default([]),
  permission: z.enum(PERMISSIONS).default('everyone'),
  cooldown: cooldownSchema,
  actions: z.array(actionSchema).min(1).max(20),
  /** A chat reply, with the same placeholders. */
  reply: z.string().max(500).optional(),
  /** Shown by !commands. */
  help: z.string().max(200).default(''),
});

const builtinOverrideSchema = z.strictObject({ permission: z.enum(PERMISSIONS).optional(), cooldown: cooldownSchema.optional(), enabled: z.boolean().default(true) });

const reactionSchema = z.strictObject({
  /** The line to speak; {user}, {amount}, {currency}, {text}, {viewers} are filled in. */
  say: z.string().min(1).max(500),
  priority: z.number().int().min(0).max(9).default(7),
  voice: z.string().optional(),
});
const reactionsSchema = z
  .strictObject({
    follow: reactionSchema.optional(),
    subscription: reactionSchema.optional(),
    raid: reactionSchema.optional(),
    gift: reactionSchema.optional(),
    superchat: reactionSchema.optional(),
    /** Messages that carry a payment (bits, Super Chat, gifts) besides their own reaction. */
    paid: reactionSchema.optional(),
  })
  // A config without `reactions` thanks every event, paid ones above all; a `reactions` section
  // replaces this whole set (so a kind left out of it is deliberately not thanked).
  .prefault({
    follow: { say: 'Welcome, {user}! Thanks for the follow!', priority: 6 },
    subscription: { say: 'Thank you for subscribing, {user}!', priority: 7 },
    raid: { say: 'Wow, a raid from {user}! Welcome, everyone!', priority: 8 },
    gift: { say: 'Thank you for the gift, {user}!', priority: 8 },
    superchat: { say: '{user} sent {amount} {currency}: {text}', priority: 8 },
    paid: { say: '{user} cheered {amount} {currency}: {text}', priority: 8 },
  });

const loadSchema = z
  .strictObject({
    /** Speech backlog (lines waiting for synthesis or air) past which plain chat speech is shed: degradation level 1 (see `degradation`). */
    shedDepth: z.number().int().min(1).default(40),
    /** `sample` keeps one plain message in `sampleEvery`; `summarise` turns the shed ones of a batch into one line. */
    shedPolicy: z.enum(['sample', 'summarise']).default('summarise'),
    sampleEvery: z.number().int().min(2).default(10),
    /** With `summarise`, at most one summary line this often (it counts every message shed since the last). */
    summaryEveryMs: durationMs(15000),
    /** Plain chat speech still waiting after this is dropped as stale rather than spoken late. */
    plainTtlMs: durationMs(30000),
    /** Messages are checked and enqueued in batches of up to this many (they gather while the previous batch is processed)… */
    batchMax: z.number().int().min(1).max(5000).default(500),
    /** …and a batch starts this long after a quiet chat's first message (0: at once). */
    batchWaitMs: durationMs(0),
  })
  .prefault({});


/** Chat: commands, filters, reactions, load shedding and the platform sources. */
export const chatSchema = z
  .strictObject({
    /** Messages starting with this are commands. */
    commandPrefix: z.string().min(1).max(3).default('!'),
    /** Longer chat text is cut before it is spoken. */
    maxLength: z.number().int().min(1).max(2000).default(300),
    /** Speak plain (non-command) chat messages. */
    speakPlainMessages: z.boolean().default(true),
    /** Priority of spoken plain chat, 0 (lowest) … 9 (highest). */
    plainPriority: z.number().int().min(0).max(9).default(2),
    /** Priority of `!say`. */
    sayPriority: z.number().int().min(0).max(9).default(3),
    /** How long a platform message id is remembered to drop duplicates (reconnect replays, HA replicas). */
    dedupeTtlMs: durationMs(15 * 60 * 1000),
    filter: filterSchema,
    /** Chat commands besides the built-ins (say, voice, scene, commands, queue, skip, clear). */
    commands: z.array(commandSchema).default([]),
    /** Built-in commands: permission and cooldowns may be changed here, by name. */
    builtins: z.partialRecord(z.enum(BUILTIN_COMMANDS), builtinOverrideSchema).default({}),
    /** Reactions to platform events (follow, subscription, raid, gift, superchat, bits). */
    reactions: reactionsSchema,
    load: loadSchema,
    /** Twitch chat over IRC (tmi.js): anonymous read-only without a token, able to reply with one. */
    twitch: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** IRC-over-WebSocket address (env TWITCH_IRC_URL); tests point it at loopback. */
        server: z.string().default('wss://irc-ws.chat.twitch.tv:443'),
        /** Channel logins to read. */
        channels: z.array(z.string().regex(/^#?[A-Za-z0-9_]{1,25}$/, 'a Twitch channel login')).default([]),
        /** Bot account login; empty reads anonymously. */
        username: z.string().default(''),
        /** OAuth token of the bot account (env TWITCH_OAUTH_TOKEN); never logged. */
        oauthToken: z.string().default(''),
        /** idolcast channel these chats feed (default: defaultChannel). */
        channel: z.string().optional(),
        reconnectBaseMs: durationMs(1000),
        reconnectCapMs: durationMs(30000),
      })
      .prefault({}),
    /** YouTube live chat via the Data API v3 (liveChatMessages.streamList, liveChatMessages.list polling as the fallback). */
    youtube: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** API base (env YOUTUBE_API_URL); tests point it at loopback. */
        baseUrl: z.string().default('https://www.googleapis.com/youtube/v3'),
        /** API key (env YOUTUBE_API_KEY); never logged. */
        apiKey: z.string().default(''),
        /** The live video; its live chat id is resolved from it. */
        videoId: z.string().default(''),
        /** Or the live chat id itself. */
        liveChatId: z.string().default(''),
        /** Daily quota units this adapter may spend (each poll costs 5): sets the slowest poll interval the day affords. */
        dailyQuotaUnits: z.number().int().min(5).default(10000),
        channel: z.string().optional(),
        backoffBaseMs: durationMs(2000),
        backoffCapMs: durationMs(300000),
        /** stream: liveChatMessages.streamList (gRPC) only; poll: liveChatMessages.list only; auto: stream, polling while streaming is refused. */
        transport: z.enum(['stream', 'poll', 'auto']).default('auto'),
        /** streamList's gRPC address: host:port over TLS (grpcs:// too), grpc://host:port in plaintext for loopback tests. */
        grpcUrl: z.string().default('youtube.googleapis.com:443'),
        /** A stream that sends nothing this long is reopened (a quiet chat then costs one call per this); 0: never. */
        streamIdleMs: durationMs(300000),
        /** After streaming is refused (auto), poll this long before trying to stream again. */
        streamRetryMs: durationMs(600000),
      })
      .prefault({}),
    /** TikTok LIVE via tiktok-live-connector (needs its signing service). */
    tiktok: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** The streamer's unique id (@name without the @). */
        uniqueId: z.string().default(''),
        /** Signing service API key (env TIKTOK_SIGN_API_KEY); never logged. */
        signApiKey: z.string().default(''),
        channel: z.string().optional(),
        /** The signing service allows a few connections a minute: reconnects start slow. */
        reconnectBaseMs: durationMs(15000),
        reconnectCapMs: durationMs(300000),
      })
      .prefault({}),
  })
  .prefault({});
