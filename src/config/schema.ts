import { z } from 'zod';
import { WORKER_KINDS, type WorkerKind } from '../../queues/catalog';
import { aiSchema } from './ai.schema';
import { channelSchema } from './channel.schema';
import { chatSchema } from './chat.schema';
import { controlSchema } from './control.schema';
import { degradationDepths, degradationSchema } from './degradation.schema';
import { durationMs } from './fields';
import { obsSchema } from './obs.schema';
import { overlaySchema } from './overlay.schema';
import { playoutSchema } from './playout.schema';
import { redisSchema } from './redis.schema';
import { cronProblem, scheduleSchema } from './schedule.schema';
import { LOCAL_ENGINE, ttsSchema, voiceChain, voiceSchema } from './tts.schema';

/** The reply worker's default concurrency (see `workers.concurrency`). */
const REPLY_CONCURRENCY = 16;

/**
 * The whole idolcast configuration, assembled from one schema per section (`*.schema.ts` beside
 * this file), and the checks that span sections: names one section gives and another uses. Every
 * setting has a default and a one-line doc, so the built-in `default.yaml` only has to say what
 * differs from these. Objects are strict: a misspelt key is an error with its path, not a silently
 * ignored setting.
 */

/** Every section, by its key in the file. */
const sections = z.strictObject({
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
  tts: ttsSchema,
  playout: playoutSchema,
  chat: chatSchema,
  workers: z
    .strictObject({
      /**
       * Default concurrency per worker kind (overridden by `--concurrency`). A reply job holds its
       * slot through the model's whole reply and until its lines are voiced, mostly waiting (about
       * a second each at a fast model's pace): with 4, 5 replies/s kept every slot busy and new
       * questions queued behind replies that were only waiting; 16 leaves room at 5–10/s.
       */
      concurrency: z
        .strictObject(Object.fromEntries(WORKER_KINDS.map((k) => [k, z.number().int().min(1).max(256).default(k === 'reply' ? REPLY_CONCURRENCY : k === 'tts' || k === 'audio' ? 4 : 1)])) as Record<WorkerKind, z.ZodDefault<z.ZodNumber>>)
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
});

export const configSchema = sections.superRefine((cfg, ctx) => {
  const issue: Issue = (path, message) => ctx.addIssue({ code: 'custom', path, message });
  checkDefaults(cfg, issue);
  checkVoices(cfg, issue);
  checkDegradation(cfg, issue);
  checkSchedule(cfg, issue);
  checkSources(cfg, issue);
  checkPersonas(cfg, issue);
  checkVtubeStudio(cfg, issue);
});

/** Resolved by the loader (src/config/load.ts) from the environment, never from the file. */
export interface ResolvedEnv {
  /** IDOLCAST_FAULT_INJECTION=1: chaos runs and tests may break things on purpose (an `inject` control). */
  faultInjection: boolean;
  /** Stream keys, by the variable a destination's `keyEnv` names (set ones only). */
  streamKeys: Record<string, string>;
}
export type Config = z.infer<typeof configSchema> & { resolved?: ResolvedEnv };

/** Records one problem at its path. */
type Issue = (path: (string | number)[], message: string) => void;

/** The sections as the cross-checks see them: parsed, each already checked on its own. */
type Parsed = z.output<typeof sections>;

function checkDefaults(cfg: Parsed, issue: Issue): void {
  if (!Object.hasOwn(cfg.voices, cfg.defaultVoice)) issue(['defaultVoice'], `no voice named "${cfg.defaultVoice}" in voices`);
  if (!Object.hasOwn(cfg.channels, cfg.defaultChannel)) issue(['defaultChannel'], `no channel named "${cfg.defaultChannel}" in channels`);
}

/** Every voice's engine exists, its fallbacks and cheaper voice are voices, and its chain ends in a local voice. */
function checkVoices(cfg: Parsed, issue: Issue): void {
  for (const [name, v] of Object.entries(cfg.voices)) {
    if (v.engine !== LOCAL_ENGINE && !Object.hasOwn(cfg.tts.engines, v.engine)) {
      issue(['voices', name, 'engine'], `no engine named "${v.engine}" (${LOCAL_ENGINE} or one of tts.engines)`);
      continue;
    }
    for (const [i, f] of v.fallback.entries()) {
      if (!Object.hasOwn(cfg.voices, f)) issue(['voices', name, 'fallback', i], `no voice named "${f}"`);
    }
    if (v.cheaper !== undefined && !Object.hasOwn(cfg.voices, v.cheaper)) issue(['voices', name, 'cheaper'], `no voice named "${v.cheaper}"`);
    const chain = voiceChain(cfg.voices, name);
    if (cfg.voices[chain[chain.length - 1]!]?.engine !== LOCAL_ENGINE) {
      issue(['voices', name, 'fallback'], `the fallback chain (${chain.join(' → ')}) must end in a local ${LOCAL_ENGINE} voice`);
    }
  }
}

/** Thresholds rise with the level (the backlog's from two sections). */
function checkDegradation(cfg: Parsed, issue: Issue): void {
  const depths = degradationDepths(cfg);
  if (depths[1] < depths[0] || depths[2] < depths[1]) {
    issue(['degradation'], `backlog depths must rise with the level: chat.load.shedDepth ${depths[0]} ≤ ttlDepth ${depths[1]} ≤ voiceDepth ${depths[2]}`);
  }
  const rtt = cfg.degradation.redisRttMs;
  if (rtt.ttl < rtt.shed || rtt.voice < rtt.ttl) issue(['degradation', 'redisRttMs'], 'round trips must rise with the level: shed ≤ ttl ≤ voice');
}

/** Time zones, cron patterns and every pool, timeline, channel and voice a routine or timeline names. */
function checkSchedule(cfg: Parsed, issue: Issue): void {
  const sched = cfg.schedule;
  const checkTz = (tz: string, path: (string | number)[]) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      issue(path, `unknown time zone "${tz}"`);
    }
  };
  checkTz(sched.timezone, ['schedule', 'timezone']);
  const usesVoice = voiceRef(cfg, issue);
  const usesPool = (pool: string, path: (string | number)[]) => !Object.hasOwn(sched.phrasePools, pool) && issue(path, `no phrase pool named "${pool}"`);
  for (const [name, r] of Object.entries(sched.routines)) {
    const path = ['schedule', 'routines', name];
    if (r.cron !== undefined) {
      const why = cronProblem(r.cron, r.tz ?? sched.timezone);
      if (why) issue([...path, 'cron'], why);
    }
    if (r.tz) checkTz(r.tz, [...path, 'tz']);
    if (r.every !== undefined && r.every < 100) issue([...path, 'every'], 'at least 100 ms');
    if (r.channel !== undefined && !Object.hasOwn(cfg.channels, r.channel)) issue([...path, 'channel'], `no channel named "${r.channel}"`);
    if ('pool' in r.action) usesPool(r.action.pool, [...path, 'action', 'pool']);
    if ('timeline' in r.action && !Object.hasOwn(sched.timelines, r.action.timeline)) issue([...path, 'action', 'timeline'], `no timeline named "${r.action.timeline}"`);
    if ('voice' in r.action) usesVoice(r.action.voice, [...path, 'action', 'voice']);
  }
  for (const [name, steps] of Object.entries(sched.timelines)) {
    steps.forEach((s, i) => {
      if ('pool' in s) usesPool(s.pool, ['schedule', 'timelines', name, i, 'pool']);
      if ('voice' in s) usesVoice(s.voice, ['schedule', 'timelines', name, i, 'voice']);
    });
  }
}

/** The channels OBS and the chat sources feed, what each enabled source needs, the voices commands name. */
function checkSources(cfg: Parsed, issue: Issue): void {
  if (cfg.obs.channel !== undefined && !Object.hasOwn(cfg.channels, cfg.obs.channel)) issue(['obs', 'channel'], `no channel named "${cfg.obs.channel}" in channels`);
  const { twitch, youtube, tiktok } = cfg.chat;
  for (const [name, source] of [['twitch', twitch], ['youtube', youtube], ['tiktok', tiktok]] as const) {
    if (source.channel !== undefined && !Object.hasOwn(cfg.channels, source.channel)) issue(['chat', name, 'channel'], `no channel named "${source.channel}" in channels`);
  }
  if (twitch.enabled && !twitch.channels.length) issue(['chat', 'twitch', 'channels'], 'twitch is enabled: name at least one channel to read');
  if (twitch.enabled && Boolean(twitch.username) !== Boolean(twitch.oauthToken)) {
    issue(['chat', 'twitch', 'oauthToken'], 'username and OAuth token (TWITCH_OAUTH_TOKEN) go together: set both to reply, neither to read anonymously');
  }
  if (youtube.enabled && !youtube.apiKey) issue(['chat', 'youtube', 'apiKey'], 'youtube is enabled: set YOUTUBE_API_KEY');
  if (youtube.enabled && !youtube.videoId && !youtube.liveChatId) issue(['chat', 'youtube', 'videoId'], 'youtube is enabled: set videoId (or liveChatId)');
  if (tiktok.enabled && !tiktok.uniqueId) issue(['chat', 'tiktok', 'uniqueId'], "tiktok is enabled: set the streamer's uniqueId");
  const usesVoice = voiceRef(cfg, issue);
  for (const [i, c] of cfg.chat.commands.entries()) c.actions.forEach((a, j) => 'voice' in a && usesVoice(a.voice, ['chat', 'commands', i, 'actions', j, 'voice']));
}

/** Checks that a voice a section names (when it names one) is configured. */
function voiceRef(cfg: Parsed, issue: Issue): (voice: string | undefined, path: (string | number)[]) => void {
  return (voice, path) => {
    if (voice !== undefined && !Object.hasOwn(cfg.voices, voice)) issue(path, `no voice named "${voice}"`);
  };
}

/** The voices AI personas speak in. */
function checkPersonas(cfg: Parsed, issue: Issue): void {
  const uses = voiceRef(cfg, issue);
  for (const [name, persona] of Object.entries(cfg.ai.personas)) uses(persona.voice, ['ai', 'personas', name, 'voice']);
}

/** A mouth moved earlier than the encoder takes the speech needs samples the pump has already handed over. */
function checkVtubeStudio(cfg: Parsed, issue: Issue): void {
  for (const [name, c] of Object.entries(cfg.channels)) {
    const offset = c.video.avatar.vtubeStudio.mouthOffsetMs;
    if (offset < -cfg.playout.leadMs) issue(['channels', name, 'video', 'avatar', 'vtubeStudio', 'mouthOffsetMs'], `at most playout.leadMs (${cfg.playout.leadMs} ms) early: the speech further ahead is not handed over yet`);
  }
}

export type { ChannelConfig } from './channel.schema';
export { BUILTIN_COMMANDS, PERMISSIONS, type Permission } from './chat.schema';
export { LOCAL_ENGINE, type EngineConfig, type VoiceConfig } from './tts.schema';
