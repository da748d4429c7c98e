import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { WORKER_KINDS, type WorkerKind } from '../../queues/catalog';
import { programmeAction } from '../../queues/routine.queue';
import { aiSchema } from './ai.schema';

/** Why a cron pattern cannot be used, or undefined when it can. */
export function cronProblem(pattern: string, tz: string): string | undefined {
  try {
    CronExpressionParser.parse(pattern, { tz, strict: false });
    return undefined;
  } catch (err) {
    return `not a valid cron pattern: ${(err as Error).message}`;
  }
}

/**
 * The whole idolcast configuration. Every setting has a default and a one-line doc, so the
 * built-in `default.yaml` only has to say what differs from these. Objects are strict: a
 * misspelt key is an error with its path, not a silently ignored setting.
 */

const durationMs = (def: number) => z.number().int().min(0).default(def);

const redisSchema = z
  .strictObject({
    /** redis://… of an existing server; empty starts a local redis-server (env REDIS_URL). */
    url: z.string().default(''),
    /**
     * Prefix of every key idolcast and BullMQ write, so several deployments can share a server.
     * On Redis Cluster use a hash tag, e.g. `{idolcast}`: every key then lives in one slot, as
     * BullMQ's scripts and idolcast's transactions need.
     */
    prefix: z.string().regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - { } only').default('idolcast'),
    /** Port of the local redis-server that `idolcast up` starts when `url` is empty. */
    localPort: z.number().int().min(1).max(65535).default(6389),
    /** Data directory of that local server (AOF lives here). */
    dataDir: z.string().default('./data/redis'),
    /**
     * Redis Sentinel addresses (`host:port`, env REDIS_SENTINELS comma-separated): when set, the
     * master named `sentinelName` is asked of them and followed across failovers; `url` then only
     * supplies the master's user, password and database.
     */
    sentinels: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).default([]),
    /** The master's name in the Sentinel configuration (env REDIS_SENTINEL_NAME). */
    sentinelName: z.string().min(1).default('idolcast'),
    /** Password of the sentinels themselves, when they require one (env REDIS_SENTINEL_PASSWORD). */
    sentinelPassword: z.string().default(''),
  })
  .prefault({});

const rateSchema = z.strictObject({ burst: z.number().int().min(1).max(10_000), perMinute: z.number().int().min(1).max(600_000) });

const controlSchema = z
  .strictObject({
    /** Address the control server binds; anything but loopback needs `adminToken` (env HOST). */
    host: z.string().default('127.0.0.1'),
    /** Port of the control server: dashboard, page, API, metrics (env PORT). */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Bearer token for everything but /healthz, /readyz and the overlay; required when bound beyond loopback (env ADMIN_TOKEN). */
    adminToken: z.string().default(''),
    /**
     * Read-only token of the overlay (`/overlay?token=…`), opening nothing else (env OVERLAY_TOKEN);
     * empty: derived from the admin token (GET /api/overlay tells the address), or none without one.
     */
    overlayToken: z.string().default(''),
    /**
     * Further `Host` names the server answers to, `name` (any port) or `name:port`: a reverse proxy's
     * name, a Compose service name, a remapped port (env ALLOWED_HOSTS, comma-separated). The bound
     * address and, on loopback, 127.0.0.1 / localhost / [::1] always are.
     */
    allowedHosts: z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+)(:\d{1,5})?$/, 'a host name, or host:port')).default([]),
    /** Live event streams (live page, overlays) open at once; past it a new one gets 503. */
    maxEventStreams: z.number().int().min(1).max(100_000).default(200),
    /** Bytes an event-stream client may leave unread before it is dropped. */
    eventBufferBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(256 * 1024),
    /** POST /api/chat: a token bucket per client address and one for all clients; past either, 429 with Retry-After. */
    chatRate: z
      .strictObject({ perClient: rateSchema.prefault({ burst: 5, perMinute: 20 }), global: rateSchema.prefault({ burst: 30, perMinute: 240 }) })
      .prefault({}),
  })
  .prefault({});

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1d1b2e');

const channelSchema = z.strictObject({
  /** Shown on the local page. */
  title: z.string().min(1).max(100).default('idolcast'),
  video: z
    .strictObject({
      width: z.number().int().min(64).max(3840).default(640),
      height: z.number().int().min(64).max(2160).default(360),
      fps: z.number().int().min(1).max(60).default(15),
      /** Background colour of the generated picture. */
      background: colour.default('#1d1b2e'),
      videoBitrateKbps: z.number().int().min(100).max(20000).default(600),
      audioBitrateKbps: z.number().int().min(32).max(320).default(96),
      /** Draw the line on air as a caption on the picture. */
      captions: z.boolean().default(true),
      /** A still image as the picture (fitted into the frame, letterboxed in `background`). */
      image: z.string().min(1).optional(),
      /** A video file played in a loop as the picture (its own sound is not used). */
      loop: z.string().min(1).optional(),
      /** No picture at all: the stream carries the sound only. */
      audioOnly: z.boolean().default(false),
      /**
       * An external video feed instead of the generated picture (OBS pushing RTMP or SRT to us, or
       * any URL ffmpeg reads), with the playout audio on it. While it is gone, a slate is shown.
       */
      feed: z
        .strictObject({
          url: z.string().min(1),
          /** No new frame for this long: the slate goes on air. */
          lossMs: durationMs(1000),
          /** The very same picture for this long counts as a frozen feed: the slate goes on air (0: never; a still OBS scene would trip it). */
          frozenMs: durationMs(10_000),
          slateText: z.string().min(1).max(200).default('Be right back'),
          /** A still image for the slate (the channel colour when none). */
          slateImage: z.string().optional(),
          /** The feed's own sound, mixed under the idol's speech in place of the bed (the bed plays while the feed has none). */
          audio: z
            .strictObject({
              enabled: z.boolean().default(true),
              /** Gain of the feed's sound in gaps (1: as sent). */
              level: z.number().min(0).max(2).default(1),
              /** Gain of the feed's sound under speech. */
              duckLevel: z.number().min(0).max(2).default(0.35),
            })
            .prefault({}),
        })
        .optional(),
    })
    .refine((v) => [v.image, v.loop, v.feed, v.audioOnly || undefined].filter((x) => x !== undefined).length <= 1, 'choose one picture: image, loop, feed or audioOnly')
    .prefault({}),
  live: z
    .strictObject({
      /** Directory the local HLS live view is written to (one sub-directory per channel). */
      dir: z.string().default('./data/live'),
      /** HLS segment length; shorter means a fresher live view and more files. */
      segmentSeconds: z.number().min(0.5).max(10).default(1),
      /** Segments kept in the playlist (older ones are deleted). */
      listSize: z.number().int().min(3).max(60).default(6),
    })
    .prefault({}),
  /**
   * Platforms the channel is pushed to at once (Twitch, YouTube, TikTok ingest), by name. Each has
   * its own pusher: one that fails is retried with capped backoff and never disturbs the others.
   */
  destinations: z
    .record(
      z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a destination name: a-z, 0-9, _ -'),
      z.strictObject({
        /** RTMP(S) ingest URL without the stream key, e.g. rtmp://live.twitch.tv/app. */
        url: z.string().regex(/^rtmps?:\/\/[^\s]+$/, 'an rtmp:// or rtmps:// URL'),
        /** Name of the environment variable holding the stream key (keys never live in the file and are never logged). */
        keyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
        enabled: z.boolean().default(true),
      }),
    )
    .default({}),
});

/** The built-in local engine: always there, the last fallback of every chain. */
export const LOCAL_ENGINE = 'espeak-ng';

const voiceSchema = z.strictObject({
  /** Engine that speaks this voice: `espeak-ng` (local) or the name of an engine in `tts.engines`. */
  engine: z.string().min(1).default(LOCAL_ENGINE),
  /** The engine's own voice id (espeak-ng: `espeak-ng --voices`; OpenAI: alloy…; ElevenLabs: a voice id; Azure: en-US-JennyNeural…). */
  voice: z.string().regex(/^[A-Za-z0-9_.+-]+$/, 'an engine voice id').default('en-us'),
  /** espeak-ng: words per minute. */
  speed: z.number().int().min(80).max(450).default(165),
  /** espeak-ng: 0–99. */
  pitch: z.number().int().min(0).max(99).default(50),
  /** Engine parameters sent with each request (OpenAI: speed, instructions; ElevenLabs: stability…; Azure: rate, pitch). */
  params: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean()])).default({}),
  /** Voices to try, in order, when this one's engine fails; the chain must end in a local voice. */
  fallback: z.array(z.string()).default([]),
  /** Voice that speaks chat lines instead at degradation level 3 (default: the last voice of the fallback chain, a local one). */
  cheaper: z.string().optional(),
});

const remoteEngineBase = {
  /** API key (env OPENAI_API_KEY, ELEVENLABS_API_KEY or AZURE_SPEECH_KEY by kind); never logged. */
  apiKey: z.string().default(''),
};
const engineSchema = z.discriminatedUnion('kind', [
  /** OpenAI's POST /v1/audio/speech, and the self-hosted servers that speak the same API (env OPENAI_BASE_URL). */
  z.strictObject({ kind: z.literal('openai'), ...remoteEngineBase, baseUrl: z.string().default('https://api.openai.com/v1'), model: z.string().default('gpt-4o-mini-tts') }),
  /** ElevenLabs streaming text-to-speech (env ELEVENLABS_BASE_URL). */
  z.strictObject({ kind: z.literal('elevenlabs'), ...remoteEngineBase, baseUrl: z.string().default('https://api.elevenlabs.io'), modelId: z.string().default('eleven_flash_v2_5') }),
  /** Azure Speech REST with SSML: `region` (env AZURE_SPEECH_REGION) or a full `baseUrl` (env AZURE_SPEECH_URL). */
  z.strictObject({ kind: z.literal('azure'), ...remoteEngineBase, region: z.string().default(''), baseUrl: z.string().default(''), language: z.string().default('en-US') }),
]);
export type EngineConfig = z.infer<typeof engineSchema>;

/** Roles from lowest to highest, for command permissions. */
export const PERMISSIONS = ['everyone', 'subscriber', 'vip', 'moderator', 'broadcaster'] as const;
export type Permission = (typeof PERMISSIONS)[number];
/** Filter checks that roles may be configured to bypass. */
export const FILTER_CHECKS = ['rateLimit', 'repeat', 'links', 'caps', 'symbols', 'emotes', 'bannedWords'] as const;
export const BUILTIN_COMMANDS = ['say', 'voice', 'scene', 'commands', 'queue', 'skip', 'clear'] as const;

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

/**
 * How the fleet degrades when Redis is slow or the speech backlog is deep: level 1 sheds plain chat
 * speech (from `chat.load.shedDepth`), level 2 also gives plain chat a short time-to-live, level 3
 * also voices chat lines with cheaper voices. Paid, moderator, operator and routine lines are never
 * shed, shortened or cheapened. The ingest process measures and shares the level through Redis.
 */
const degradationSchema = z
  .strictObject({
    /** Speech backlog at which level 2 starts (default: twice `chat.load.shedDepth`). */
    ttlDepth: z.number().int().min(1).optional(),
    /** Speech backlog at which level 3 starts (default: twice `ttlDepth`). */
    voiceDepth: z.number().int().min(1).optional(),
    /** Redis round trip (median of the last 3 pings, ms) at which levels 1, 2 and 3 start. */
    redisRttMs: z.strictObject({ shed: z.number().min(0).default(100), ttl: z.number().min(0).default(250), voice: z.number().min(0).default(500) }).prefault({}),
    /** From level 2 on, plain chat still waiting after this is dropped as stale (lines already queued too). */
    shortTtlMs: durationMs(8000),
    /** A level is left only once every input is below this share of the level's threshold… */
    recoverRatio: z.number().min(0.1).max(1).default(0.75),
    /** …and the level has held this long; one level down at a time, so the fleet does not flap. */
    holdMs: durationMs(10000),
    /** How often the ingest process samples the backlog and Redis's round trip. */
    sampleMs: z.number().int().min(50).default(1000),
  })
  .prefault({});

/** An offset or interval: milliseconds, or a number with ms, s, m, h or d ("+3s", "90m"). */
export const durationText = z.union([z.number().int().min(0), z.string().regex(/^\+?\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration like 500ms, 3s, 10m, 2h or 1d')]).transform((v) => {
  if (typeof v === 'number') return v;
  const m = /^\+?(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v)!;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']);
});

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day like 07:30');

/** What a scheduled routine does when it fires. */
const routineActionSchema = z.union(programmeAction.options, { error: 'an action with one of: say, pool, scene, timeline, maintenance' });

const routineSchema = z
  .strictObject({
    /** A cron pattern (5 or 6 fields), in `tz`… */
    cron: z.string().optional(),
    tz: z.string().optional(),
    /** …or a fixed interval. */
    every: durationText.optional(),
    action: routineActionSchema,
    channel: z.string().optional(),
    enabled: z.boolean().default(true),
    /** Speak even inside quiet hours. */
    ignoreQuietHours: z.boolean().default(false),
  })
  .refine((r) => (r.cron === undefined) !== (r.every === undefined), 'give exactly one of cron or every');

const timelineStepSchema = z.union([
  z.strictObject({ at: durationText, say: z.string().min(1).max(2000), voice: z.string().optional(), priority: z.number().int().min(0).max(9).optional() }),
  z.strictObject({ at: durationText, pool: z.string().min(1), voice: z.string().optional(), priority: z.number().int().min(0).max(9).optional() }),
  z.strictObject({ at: durationText, scene: z.string().min(1).max(100) }),
], { error: 'a step with `at` and one of: say, pool, scene' });

const scheduleSchema = z
  .strictObject({
    /** Time zone of cron patterns that name none. */
    timezone: z.string().default('UTC'),
    /**
     * Ticks missed while the fleet was down: BullMQ keeps one pending firing per routine, so only
     * the latest missed one is left; it runs once if it is at most this late, else it is dropped.
     */
    lateGraceMs: durationMs(600_000),
    /** Lines from routines are not spoken between these times (in `timezone`), unless a routine ignores them. */
    quietHours: z.strictObject({ start: clock, end: clock }).optional(),
    /** Named lists of lines; a pool gives every line once before repeating any. */
    phrasePools: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.array(z.string().min(1).max(2000)).min(1)).default({}),
    /** Scripted sequences: steps at offsets from the start. */
    timelines: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.array(timelineStepSchema).min(1).max(500)).default({}),
    /** What fires when: each routine becomes one BullMQ job scheduler. */
    routines: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a routine name: letters, digits, _ -'), routineSchema).default({}),
  })
  .prefault({});

/** OBS Studio, driven over obs-websocket v5 by the scene worker (off by default: no OBS needed). */
const obsSchema = z
  .strictObject({
    /** Drive OBS from scene jobs (the desired state is kept in Redis either way). */
    enabled: z.boolean().default(false),
    /** obs-websocket address (env OBS_URL); OBS's own default is ws://127.0.0.1:4455. */
    url: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// address').default('ws://127.0.0.1:4455'),
    /** obs-websocket password (env OBS_PASSWORD); empty when OBS has authentication off; never logged. */
    password: z.string().default(''),
    /** The idolcast channel whose scene jobs this OBS shows (default: defaultChannel). */
    channel: z.string().optional(),
    /** Least time between two program scene changes; an earlier change waits for it (the latest one wins). */
    minSceneDwellMs: durationMs(3000),
    /** Reconnect backoff after OBS drops or is not running: first delay… */
    reconnectBaseMs: durationMs(500),
    /** …doubling up to this (each delay jittered). */
    reconnectCapMs: durationMs(30000),
    /** After OBS rejects the password, try again only this often (a wrong password does not heal by itself). */
    authRetryMs: durationMs(60000),
    /** A request OBS has not answered within this fails. */
    requestTimeoutMs: durationMs(5000),
  })
  .prefault({});

const corner = z.enum(['top-left', 'top-right', 'bottom-left', 'bottom-right']);

/** The built-in overlay page (/overlay) for an OBS browser source: 1920×1080, transparent. */
const overlaySchema = z
  .strictObject({
    /** CSS font-family of captions, banners and the scene name. */
    font: z.string().regex(/^[A-Za-z0-9 ,'"_-]{1,200}$/, 'a CSS font-family list').default("'Noto Sans', 'DejaVu Sans', sans-serif"),
    /** Caption text size (px on the 1920×1080 page); banners and labels scale from it. */
    fontSizePx: z.number().int().min(12).max(200).default(48),
    /** Colour of the text. */
    textColour: colour.default('#ffffff'),
    /** Colour of banner edges and user names. */
    accentColour: colour.default('#ff5fa2'),
    /** Colour of the panels behind text… */
    panelColour: colour.default('#1d1b2e'),
    /** …and how opaque they are (0: no panel). */
    panelOpacity: z.number().min(0).max(1).default(0.78),
    /** Captions along the bottom or the top edge. */
    captionPosition: z.enum(['bottom', 'top']).default('bottom'),
    /** Corner of event banners (follow, sub, raid, gift). */
    bannerPosition: corner.default('top-right'),
    /** Corner of the current scene name. */
    scenePosition: corner.default('top-left'),
    /** Show the current scene name. */
    showSceneName: z.boolean().default(true),
    /** Show highlighted chat (paid messages, Super Chats) beside the captions. */
    showHighlights: z.boolean().default(true),
    /** How long one banner stays up (banners queue: two never overlap). */
    bannerMs: durationMs(4000),
    /** How long a highlighted message stays up. */
    highlightMs: durationMs(8000),
    /** A caption whose line never reports its end is taken down after this. */
    captionMaxMs: durationMs(30000),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    redis: redisSchema,
    control: controlSchema,
    /** Channels by id; each gets its own playout and broadcaster. */
    channels: z
      .record(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a channel id: a-z 0-9 _ -'), channelSchema)
      .refine((c) => Object.keys(c).length > 0, 'at least one channel')
      .default({ main: channelSchema.parse({}) }),
    /** Voices by name. */
    voices: z
      .record(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a voice name'), voiceSchema)
      .refine((v) => Object.keys(v).length > 0, 'at least one voice')
      .default({ default: voiceSchema.parse({ engine: 'espeak-ng' }) }),
    /** Voice used when a job or command names none. */
    defaultVoice: z.string().default('default'),
    /** Channel used when a job or command names none. */
    defaultChannel: z.string().default('main'),
    tts: z
      .strictObject({
        espeak: z
          .strictObject({
            /** espeak-ng binary (a path, or a name on PATH). */
            binary: z.string().default('espeak-ng'),
            /** A synthesis taking longer is killed and retried. */
            timeoutMs: durationMs(15000),
          })
          .prefault({}),
        /** Longer text is cut at a word boundary before synthesis. */
        maxTextLength: z.number().int().min(1).max(5000).default(400),
        /** Longest a line may speak (seconds): longer text is cut at a sentence boundary before synthesis, and its audio cut at this length. */
        maxLineSeconds: z.number().min(1).max(600).default(30),
        /**
         * A remote engine that has not delivered its first audio this long after a part was asked
         * for is abandoned (the request aborted) and the next voice in the chain speaks.
         */
        firstAudioDeadlineMs: z.number().int().min(100).default(2500),
        /** Remote engines by name; voices refer to them. */
        engines: z.record(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'an engine name: a-z 0-9 _ -'), engineSchema).default({}),
        /** Circuit breaker of each remote engine (opossum); an open breaker is shared by the whole fleet through Redis. */
        breaker: z
          .strictObject({
            /** A whole answer slower than this fails (and is aborted); the first audio is bounded sooner by firstAudioDeadlineMs. */
            timeoutMs: durationMs(8000),
            /** Failure share in the rolling window that opens the breaker… */
            errorThresholdPercentage: z.number().min(1).max(100).default(50),
            /** …once at least this many requests were made in it. */
            volumeThreshold: z.number().int().min(1).default(3),
            rollingCountTimeoutMs: durationMs(30000),
            /** An open breaker lets one probe through after this long. */
            resetTimeoutMs: durationMs(30000),
          })
          .prefault({}),
        /** Transient failures (timeouts, 5xx, 429) are retried with jittered backoff while the first-audio deadline allows; 429's Retry-After is honoured. Bad audio is not retried. */
        retry: z.strictObject({ attempts: z.number().int().min(1).max(10).default(2), baseMs: durationMs(200), capMs: durationMs(3000) }).prefault({}),
        cache: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** Cached engine audio is kept under this many bytes (least recently used evicted by the maintenance worker). */
            maxBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
          })
          .prefault({}),
        /** Words replaced before synthesis, for names engines say wrong (whole words, case-insensitive). */
        lexicon: z.record(z.string().min(1).max(100), z.string().max(200)).default({}),
        /** The first part of a long line is kept this short, so its audio starts early. */
        firstPartMaxChars: z.number().int().min(20).max(2000).default(120),
      })
      .prefault({}),
    playout: z
      .strictObject({
        /** Sample rate of the playout (speech is resampled to it); mono 16-bit. */
        sampleRate: z.number().int().min(8000).max(48000).default(24000),
        /** How far ahead of real time the playout feeds the encoder. */
        leadMs: durationMs(250),
        /** Speech audio waiting in Redis longer than this is dropped (bounds Redis memory). */
        audioTtlMs: durationMs(15 * 60 * 1000),
        /**
         * The active broadcaster of a channel holds a lock in Redis for this long and renews it
         * every third of it; a standby takes over when it lapses (so, at most this long after the
         * active one dies, plus the encoder's start).
         */
        leaderLockMs: z.number().int().min(300).max(60_000).default(1000),
        /**
         * Warm standby broadcasters per channel that `idolcast up` runs next to the active one: a
         * crashed broadcaster is then replaced in about a second instead of a restart and warm-up
         * (each costs about one more encoder's CPU).
         */
        standbys: z.number().int().min(0).max(3).default(0),
        /** Background sound under the playout, so a gap is never dead air. */
        bed: z
          .strictObject({
            /** `generated` (a soft pad, no file needed), `none` (silence between lines), or an audio file to loop. */
            source: z.string().min(1).default('generated'),
            /** Gain of the bed in the gaps (0–1, linear). */
            level: z.number().min(0).max(1).default(0.08),
            /** Gain of the bed under speech. */
            duckLevel: z.number().min(0).max(1).default(0.02),
          })
          .prefault({}),
        /** Watches the channel's own output and escalates on a fault: restart the encoder, fall back, alert. */
        watchdog: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** With a bed configured, silence longer than this is a fault. */
            silenceMs: durationMs(2500),
            /** No new live-view segment for this long is a stalled stream. */
            stallMs: durationMs(3000),
            /** Time each step gets to clear a fault before the next one. */
            stepMs: durationMs(3000),
            /** A black picture (while the feed or a non-dark background should show) longer than this is a fault (0: never). */
            blackMs: durationMs(3000),
            /** The very same picture from a feed that should move, longer than this, is a fault (0: never). */
            frozenMs: durationMs(3000),
          })
          .prefault({}),
      })
      .prefault({}),
    chat: z
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
      .prefault({}),
    workers: z
      .strictObject({
        /** Default concurrency per worker kind (overridden by `--concurrency`). */
        concurrency: z
          .strictObject(Object.fromEntries(WORKER_KINDS.map((k) => [k, z.number().int().min(1).max(256).default(k === 'tts' || k === 'audio' ? 4 : 1)])) as Record<WorkerKind, z.ZodDefault<z.ZodNumber>>)
          .prefault({}),
        /** A job whose worker stops renewing its lock for this long is handed to another replica. */
        lockDurationMs: durationMs(30000),
        /** How often workers look for jobs whose holder died. */
        stalledIntervalMs: durationMs(15000),
        /** Heartbeat period; a member silent for 3 periods is considered gone. */
        heartbeatMs: durationMs(5000),
        /** SIGTERM waits this long for in-flight jobs before giving up on them (they return to the queue). */
        shutdownTimeoutMs: durationMs(20000),
      })
      .prefault({}),
    degradation: degradationSchema,
    ai: aiSchema,
    schedule: scheduleSchema,
    obs: obsSchema,
    overlay: overlaySchema,
    log: z
      .strictObject({
        /** pino level (env LOG_LEVEL). */
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    if (!Object.hasOwn(cfg.voices, cfg.defaultVoice)) {
      ctx.addIssue({ code: 'custom', path: ['defaultVoice'], message: `no voice named "${cfg.defaultVoice}" in voices` });
    }
    if (!Object.hasOwn(cfg.channels, cfg.defaultChannel)) {
      ctx.addIssue({ code: 'custom', path: ['defaultChannel'], message: `no channel named "${cfg.defaultChannel}" in channels` });
    }
    for (const [name, v] of Object.entries(cfg.voices)) {
      if (v.engine !== LOCAL_ENGINE && !Object.hasOwn(cfg.tts.engines, v.engine)) {
        ctx.addIssue({ code: 'custom', path: ['voices', name, 'engine'], message: `no engine named "${v.engine}" (${LOCAL_ENGINE} or one of tts.engines)` });
        continue;
      }
      for (const [i, f] of v.fallback.entries()) {
        if (!Object.hasOwn(cfg.voices, f)) ctx.addIssue({ code: 'custom', path: ['voices', name, 'fallback', i], message: `no voice named "${f}"` });
      }
      if (v.cheaper !== undefined && !Object.hasOwn(cfg.voices, v.cheaper)) ctx.addIssue({ code: 'custom', path: ['voices', name, 'cheaper'], message: `no voice named "${v.cheaper}"` });
      const chain = voiceChain(cfg.voices, name);
      if (cfg.voices[chain[chain.length - 1]!]?.engine !== LOCAL_ENGINE) {
        ctx.addIssue({ code: 'custom', path: ['voices', name, 'fallback'], message: `the fallback chain (${chain.join(' → ')}) must end in a local ${LOCAL_ENGINE} voice` });
      }
    }
    const depths = degradationDepths(cfg);
    if (depths[1] < depths[0] || depths[2] < depths[1]) {
      ctx.addIssue({ code: 'custom', path: ['degradation'], message: `backlog depths must rise with the level: chat.load.shedDepth ${depths[0]} ≤ ttlDepth ${depths[1]} ≤ voiceDepth ${depths[2]}` });
    }
    const rtt = cfg.degradation.redisRttMs;
    if (rtt.ttl < rtt.shed || rtt.voice < rtt.ttl) ctx.addIssue({ code: 'custom', path: ['degradation', 'redisRttMs'], message: 'round trips must rise with the level: shed ≤ ttl ≤ voice' });
    const sched = cfg.schedule;
    const checkTz = (tz: string, path: (string | number)[]) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
      } catch {
        ctx.addIssue({ code: 'custom', path, message: `unknown time zone "${tz}"` });
      }
    };
    checkTz(sched.timezone, ['schedule', 'timezone']);
    const usesPool = (pool: string, path: (string | number)[]) => !Object.hasOwn(sched.phrasePools, pool) && ctx.addIssue({ code: 'custom', path, message: `no phrase pool named "${pool}"` });
    for (const [name, r] of Object.entries(sched.routines)) {
      const path = ['schedule', 'routines', name];
      if (r.cron !== undefined) {
        const why = cronProblem(r.cron, r.tz ?? sched.timezone);
        if (why) ctx.addIssue({ code: 'custom', path: [...path, 'cron'], message: why });
      }
      if (r.tz) checkTz(r.tz, [...path, 'tz']);
      if (r.every !== undefined && r.every < 100) ctx.addIssue({ code: 'custom', path: [...path, 'every'], message: 'at least 100 ms' });
      if (r.channel !== undefined && !Object.hasOwn(cfg.channels, r.channel)) ctx.addIssue({ code: 'custom', path: [...path, 'channel'], message: `no channel named "${r.channel}"` });
      if ('pool' in r.action) usesPool(r.action.pool, [...path, 'action', 'pool']);
      if ('timeline' in r.action && !Object.hasOwn(sched.timelines, r.action.timeline)) ctx.addIssue({ code: 'custom', path: [...path, 'action', 'timeline'], message: `no timeline named "${r.action.timeline}"` });
      if ('voice' in r.action && r.action.voice !== undefined && !Object.hasOwn(cfg.voices, r.action.voice)) ctx.addIssue({ code: 'custom', path: [...path, 'action', 'voice'], message: `no voice named "${r.action.voice}"` });
    }
    for (const [name, steps] of Object.entries(sched.timelines)) {
      steps.forEach((s, i) => {
        if ('pool' in s) usesPool(s.pool, ['schedule', 'timelines', name, i, 'pool']);
        if ('voice' in s && s.voice !== undefined && !Object.hasOwn(cfg.voices, s.voice)) ctx.addIssue({ code: 'custom', path: ['schedule', 'timelines', name, i, 'voice'], message: `no voice named "${s.voice}"` });
      });
    }
    if (cfg.obs.channel !== undefined && !Object.hasOwn(cfg.channels, cfg.obs.channel)) ctx.addIssue({ code: 'custom', path: ['obs', 'channel'], message: `no channel named "${cfg.obs.channel}" in channels` });
    const { twitch, youtube, tiktok } = cfg.chat;
    for (const [name, source] of [['twitch', twitch], ['youtube', youtube], ['tiktok', tiktok]] as const) {
      if (source.channel !== undefined && !Object.hasOwn(cfg.channels, source.channel)) {
        ctx.addIssue({ code: 'custom', path: ['chat', name, 'channel'], message: `no channel named "${source.channel}" in channels` });
      }
    }
    if (twitch.enabled && !twitch.channels.length) ctx.addIssue({ code: 'custom', path: ['chat', 'twitch', 'channels'], message: 'twitch is enabled: name at least one channel to read' });
    if (twitch.enabled && Boolean(twitch.username) !== Boolean(twitch.oauthToken)) {
      ctx.addIssue({ code: 'custom', path: ['chat', 'twitch', 'oauthToken'], message: 'username and OAuth token (TWITCH_OAUTH_TOKEN) go together: set both to reply, neither to read anonymously' });
    }
    if (youtube.enabled && !youtube.apiKey) ctx.addIssue({ code: 'custom', path: ['chat', 'youtube', 'apiKey'], message: 'youtube is enabled: set YOUTUBE_API_KEY' });
    if (youtube.enabled && !youtube.videoId && !youtube.liveChatId) ctx.addIssue({ code: 'custom', path: ['chat', 'youtube', 'videoId'], message: 'youtube is enabled: set videoId (or liveChatId)' });
    if (tiktok.enabled && !tiktok.uniqueId) ctx.addIssue({ code: 'custom', path: ['chat', 'tiktok', 'uniqueId'], message: 'tiktok is enabled: set the streamer\'s uniqueId' });
    for (const [i, c] of cfg.chat.commands.entries()) {
      for (const [j, a] of c.actions.entries()) {
        if ('voice' in a && a.voice !== undefined && !Object.hasOwn(cfg.voices, a.voice)) ctx.addIssue({ code: 'custom', path: ['chat', 'commands', i, 'actions', j, 'voice'], message: `no voice named "${a.voice}"` });
      }
    }
  });

/** Resolved by the loader (src/config/load.ts) from the environment, never from the file. */
export interface ResolvedEnv {
  /** IDOLCAST_FAULT_INJECTION=1: chaos runs and tests may break things on purpose (an `inject` control). */
  faultInjection: boolean;
  /** Stream keys, by the variable a destination's `keyEnv` names (set ones only). */
  streamKeys: Record<string, string>;
}
export type Config = z.infer<typeof configSchema> & { resolved?: ResolvedEnv };

/** A voice and the voices it falls back to, in order, each once (following fallbacks of fallbacks). */
export function voiceChain(voices: Record<string, { fallback: string[] }>, name: string): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n) || !Object.hasOwn(voices, n)) return;
    out.push(n);
    for (const f of voices[n]!.fallback) visit(f);
  };
  visit(name);
  return out;
}
/** Speech backlog depths at which degradation levels 1, 2 and 3 start. */
export function degradationDepths(cfg: Pick<Config, 'chat' | 'degradation'>): [number, number, number] {
  const shed = cfg.chat.load.shedDepth;
  const ttl = cfg.degradation.ttlDepth ?? shed * 2;
  return [shed, ttl, cfg.degradation.voiceDepth ?? ttl * 2];
}
export type ChannelConfig = z.infer<typeof channelSchema>;
export type VoiceConfig = z.infer<typeof voiceSchema>;
