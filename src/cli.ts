import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import type { Redis } from './redis';
import { Queues } from '../queues/registry';
import { aiCommand } from './ai/ai-command';
import { dumpAi } from './ai/delay';
import { avatarProblems } from './avatar/look';
import { runBroadcast } from './broadcast/broadcaster';
import { currentVoice } from './channel-state';
import { runIngest } from './chat/ingest';
import { normaliseText } from './chat/normalise';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config/load';
import { configured, isConfigured } from './config/names';
import { WORKER_KINDS, type WorkerKind } from '../queues/catalog';
import type { Config } from './config/schema';
import { configWarnings } from './config/warnings';
import { runControl } from './control/server';
import { listFleet } from './fleet';
import { createLogger } from './logger';
import { redisTarget } from './process';
import { channelEventSchema, type ControlMessage } from '../queues/live-events';
import { parsePubSub } from './pubsub';
import { createRedis, duplicate, keyspace } from './redis';
import { localTime } from './schedule/clock';
import { describeAction, previewSchedule } from './schedule/preview';
import { listSchedules, removeSchedule, syncSchedules } from './schedule/schedules';
import { cancelTimeline, listTimelineRuns, startTimeline, timelineJob } from './schedule/timeline';
import { runStatus } from './status/status';
import { runUp } from './supervisor/up';
import { runWorker } from './worker-runtime';

const int = (what: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}`);
  return n;
};

const program = new Command('idolcast').description('Keeps a virtual idol live 24/7: chat in, speech and scenes out.').showHelpAfterError();

program
  .command('up')
  .description('start the whole fleet on this machine (local Redis when REDIS_URL is not set), supervised')
  .action(() => runUp());

program.command('control').description('run the control server: dashboard, live page, chat API, health, metrics').action(() => runControl());
program.command('ingest').description('run the ingest process: chat events → command processor → jobs').action(() => runIngest());

program
  .command('broadcast')
  .description("run a channel's broadcaster: continuous playout → ffmpeg → live view")
  .option('--channel <id>', 'channel id from the config (default: defaultChannel)')
  .action((opts: { channel?: string }) => runBroadcast(opts.channel ?? loadConfig().defaultChannel));

program
  .command('worker')
  .description(`run a worker: ${WORKER_KINDS.join(', ')}`)
  .argument('<kind>', 'worker kind', (v) => {
    if (!(WORKER_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${WORKER_KINDS.join(', ')}`);
    return v as WorkerKind;
  })
  .option('--concurrency <n>', 'jobs processed at once', int('concurrency', 1, 256))
  .action((kind: WorkerKind, opts: { concurrency?: number }) => runWorker(kind, opts.concurrency));

program
  .command('say')
  .description('make the idol say a line (as the operator)')
  .argument('<text...>', 'what to say')
  .option('--voice <name>', 'voice name from the config')
  .option('--priority <n>', '0 (lowest) … 9 (highest)', int('priority', 0, 9), 5)
  .option('--channel <id>', 'channel id')
  .option('--wait', 'wait until the line has been on air and print its times')
  .action(async (words: string[], opts: { voice?: string; priority: number; channel?: string; wait?: boolean }) => {
    const config = loadConfig();
    if (opts.voice && !isConfigured(config.voices, opts.voice)) throw new ConfigError('--voice', [`--voice: no voice "${opts.voice}" (voices: ${Object.keys(config.voices).join(', ')})`]);
    const channel = opts.channel ?? config.defaultChannel;
    if (!isConfigured(config.channels, channel)) throw new ConfigError('--channel', [`--channel: no channel "${channel}"`]);
    const { text } = normaliseText(words.join(' '), config.tts.maxTextLength);
    if (!text) throw new ConfigError('text', ['text: nothing to say after normalisation']);
    const redis = createRedis(redisTarget(config));
    const keys = keyspace(config.redis.prefix);
    // Without --voice, the channel's current voice (as set by !voice), as chat and routines use.
    const voice = opts.voice ?? (await currentVoice({ redis, keys, config }, channel));
    const queues = new Queues(redis, config.redis.prefix);
    const utteranceId = `say-${randomUUID()}`;
    const sub = opts.wait ? duplicate(redis) : undefined;
    const aired = sub
      ? new Promise<Record<string, unknown>>((resolve) => {
          sub.on('message', (c: string, m: string) => {
            const e = parsePubSub(channelEventSchema, m, { warn: (_f, msg) => console.error(msg) }, c);
            // An interrupted airing is aired again: wait for the one that finishes.
            if (e?.utteranceId === utteranceId && e.type === 'onair-end' && !e.interrupted) resolve(e);
          });
        })
      : undefined;
    try {
      if (sub) await sub.subscribe(keys.events(channel));
      await queues.enqueue('tts', { utteranceId, channel, text, voice, priority: opts.priority, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'operator' } });
      if (!aired) {
        console.log(JSON.stringify({ utteranceId, channel, voice }));
        return;
      }
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not on air within 120 s: is the fleet running?')), 120_000).unref());
      const e = await Promise.race([aired, timeout]);
      console.log(JSON.stringify({ utteranceId, channel, voice, startAt: e.startAt, endAt: e.endAt }));
    } finally {
      await sub?.quit();
      await queues.close();
      await redis.quit();
    }
  });

program
  .command('fleet')
  .description('list live fleet members')
  .action(async () => {
    const config = loadConfig();
    const redis = createRedis(redisTarget(config));
    try {
      const members = await listFleet(redis, keyspace(config.redis.prefix), config.workers.heartbeatMs);
      for (const m of members) console.log(`${m.kind.padEnd(20)} ${m.id.padEnd(48)} up ${Math.round((Date.now() - m.startedAt) / 1000)}s ${JSON.stringify(m.detail)}`);
      if (!members.length) console.log('no live fleet members');
    } finally {
      await redis.quit();
    }
  });

program
  .command('status')
  .description('one screen: every queue\'s depth and rates, live processes per kind, breakers, on-air state per destination')
  .option('--watch [seconds]', 'redraw every N seconds (default 2) until Ctrl-C', (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0.2 || n > 3600) throw new InvalidArgumentError('seconds must be a number from 0.2 to 3600');
    return n;
  })
  .option('--json', 'print the report as one JSON object (one line per refresh with --watch)')
  .action((opts: { watch?: number | true; json?: boolean }) => runStatus({ watchSeconds: opts.watch === true ? 2 : opts.watch, json: opts.json }));

program
  .command('ai')
  .description('AI replies fleet-wide: on, off (the kill switch; kept across restarts) or status')
  .argument('<action>', 'on | off | status', (v) => {
    if (v !== 'on' && v !== 'off' && v !== 'status') throw new InvalidArgumentError('one of on, off, status');
    return v;
  })
  .action(async (action: 'on' | 'off' | 'status') => console.log(await withRedis((parts) => aiCommand(action, parts))));

program
  .command('dump')
  .description('drop the AI lines waiting in the broadcast delay and cut the AI line on air (as the operator at this shell)')
  .option('--channel <id>', 'channel id (default: the default channel)')
  .action(async (opts: { channel?: string }) =>
    console.log(
      await withRedis(async (parts) => {
        const channel = opts.channel ?? parts.config.defaultChannel;
        if (!isConfigured(parts.config.channels, channel)) throw new ConfigError('--channel', [`--channel: no channel "${channel}"`]);
        const { held } = await dumpAi({ ...parts, log: createLogger('cli', 'silent') }, channel, `cli:${process.env.USER ?? 'operator'}`);
        return `AI lines of ${channel} dumped: ${held} taken from the broadcast delay; an AI line on air is cut`;
      }),
    ),
  );

/** Run a CLI action against the fleet's Redis and queues, closing them after. */
async function withRedis<T>(fn: (parts: { config: Config; redis: Redis; keys: ReturnType<typeof keyspace>; queues: Queues }) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const redis = createRedis(redisTarget(config));
  const queues = new Queues(redis, config.redis.prefix);
  try {
    return await fn({ config, redis, keys: keyspace(config.redis.prefix), queues });
  } finally {
    await queues.close();
    await redis.quit();
  }
}

const when = (ms: number | undefined, tz: string) => (ms === undefined ? '-' : `${new Date(ms).toISOString()} (${localTime(ms, tz)})`);

const schedule = program.command('schedule').description('the programme: routines and their BullMQ job schedulers');
schedule
  .command('list')
  .description('list the routine schedulers in Redis and when each fires next')
  .option('--json', 'one JSON object per line')
  .action((opts: { json?: boolean }) =>
    withRedis(async ({ config, queues }) => {
      const list = await listSchedules(queues);
      for (const s of list) {
        if (opts.json) console.log(JSON.stringify(s));
        else console.log(`${s.name.padEnd(24)} ${(s.pattern ? `cron "${s.pattern}" ${s.tz ?? ''}` : `every ${s.every} ms`).padEnd(36)} next ${when(s.next, config.schedule.timezone)}  ${s.payload?.type === 'routine' ? describeAction(s.payload.action) : ''}`);
      }
      if (!list.length && !opts.json) console.log('no routine schedulers (run `idolcast schedule sync`)');
    }),
  );
schedule
  .command('sync')
  .description('make Redis hold exactly the routines of the config (the ingest process does this at start)')
  .action(() =>
    withRedis(async ({ config, queues }) => {
      const result = await syncSchedules(queues, config);
      console.log(JSON.stringify(result));
      if (result.failed.length) process.exitCode = 1;
    }),
  );
schedule
  .command('run')
  .description('fire a routine now, once (quiet hours do not apply to a manual run)')
  .argument('<name>', 'routine name from the config')
  .action((name: string) =>
    withRedis(async ({ config, queues }) => {
      const r = requireRoutine(config, name);
      const job = await queues.enqueue('routine', { type: 'routine', name, channel: r.channel ?? config.defaultChannel, action: r.action, ignoreQuietHours: true });
      console.log(JSON.stringify({ routine: name, jobId: job.id }));
    }),
  );
schedule
  .command('remove')
  .description("delete a routine's scheduler (the next sync adds it back while the config still has it)")
  .argument('<name>', 'routine name')
  .action((name: string) =>
    withRedis(async ({ queues }) => {
      const removed = await removeSchedule(queues, name);
      console.log(JSON.stringify({ routine: name, removed }));
      if (!removed) process.exitCode = 1;
    }),
  );
schedule
  .command('preview')
  .description('dry run of the config: what fires when in the coming hours, and conflicts')
  .option('--hours <n>', 'how far ahead', int('hours', 1, 24 * 31), 24)
  .option('--from <time>', 'start instead of now (ISO 8601)')
  .option('--json', 'print the preview as one JSON object')
  .action((opts: { hours: number; from?: string; json?: boolean }) => {
    const config = loadConfig();
    const from = opts.from === undefined ? Date.now() : Date.parse(opts.from);
    if (Number.isNaN(from)) throw new ConfigError('--from', [`--from: not a date: ${opts.from}`]);
    const p = previewSchedule(config, from, opts.hours);
    if (opts.json) return console.log(JSON.stringify(p));
    const tz = config.schedule.timezone;
    console.log(`programme from ${when(p.from, tz)} to ${when(p.to, tz)}: ${p.firings.length + p.omitted} firing(s)`);
    for (const f of p.firings) console.log(`${when(f.at, tz)}  ${f.routine.padEnd(20)} ${f.channel.padEnd(10)} ${f.action}${f.quiet ? '  [quiet hours: silent]' : ''}${f.until !== undefined ? `  until ${new Date(f.until).toISOString()}` : ''}`);
    if (p.omitted) console.log(`… and ${p.omitted} more`);
    for (const c of p.conflicts) console.log(`CONFLICT ${c.kind} at ${when(c.at, tz)}: ${c.message}`);
    if (!p.conflicts.length) console.log('no conflicts');
  });

function requireRoutine(config: Config, name: string) {
  const r = configured(config.schedule.routines, name);
  if (!r) throw new ConfigError('routine', [`routine: no routine "${name}" (routines: ${Object.keys(config.schedule.routines).join(', ') || 'none'})`]);
  return r;
}

const timeline = program.command('timeline').description('scripted sequences of steps at offsets');
timeline
  .command('run')
  .description('start a run of a timeline now and print its run id')
  .argument('<name>', 'timeline name from the config')
  .option('--channel <id>', 'channel id')
  .action((name: string, opts: { channel?: string }) =>
    withRedis(async ({ config, redis, keys, queues }) => {
      if (!isConfigured(config.schedule.timelines, name)) throw new ConfigError('timeline', [`timeline: no timeline "${name}" (timelines: ${Object.keys(config.schedule.timelines).join(', ') || 'none'})`]);
      const channel = opts.channel ?? config.defaultChannel;
      if (!isConfigured(config.channels, channel)) throw new ConfigError('--channel', [`--channel: no channel "${channel}"`]);
      const runId = await startTimeline(redis, keys, queues, timelineJob(config, name, channel, Date.now()));
      console.log(JSON.stringify({ timeline: name, channel, runId }));
    }),
  );
timeline
  .command('cancel')
  .description('cancel a running timeline: its remaining steps do not run')
  .argument('<runId>', 'run id printed by `timeline run` or `timeline list`')
  .action((runId: string) =>
    withRedis(async ({ redis, keys, queues }) => {
      const r = await cancelTimeline(redis, keys, queues, runId);
      console.log(JSON.stringify({ runId, cancelled: r !== undefined, ...r }));
      if (!r) process.exitCode = 1;
    }),
  );
timeline
  .command('list')
  .description('timeline runs still going (or ended in the last minute)')
  .action(() =>
    withRedis(async ({ redis, keys }) => {
      for (const run of await listTimelineRuns(redis, keys)) console.log(JSON.stringify(run));
    }),
  );

program
  .command('avatar')
  .description("the built-in avatar: `avatar reload` makes the channel's broadcasters read its pack again")
  .argument('<action>', 'reload', (v) => {
    if (v !== 'reload') throw new InvalidArgumentError('reload');
    return v;
  })
  .option('--channel <id>', 'channel id')
  .action((_action: string, opts: { channel?: string }) =>
    withRedis(async ({ config, redis, keys }) => {
      const channel = opts.channel ?? config.defaultChannel;
      if (!isConfigured(config.channels, channel)) throw new ConfigError('--channel', [`--channel: no channel "${channel}"`]);
      // Told to every broadcaster of the channel, active and standby; each keeps its avatar if the pack is broken (and logs why).
      const listeners = await redis.publish(keys.control(channel), JSON.stringify({ action: 'avatar-reload', by: 'cli' } satisfies ControlMessage));
      console.log(JSON.stringify({ channel, subscribers: listeners }));
    }),
  );

const config = program.command('config').description('configuration tools');
config
  .command('check')
  .description('validate the configuration (IDOLCAST_CONFIG or the built-in default) and exit')
  .action(() => {
    const c = loadConfig();
    // Each channel's avatar pack as its broadcaster would load it: every missing layer, wrong size or misfit named.
    const problems = Object.entries(c.channels).flatMap(([id, ch]) => {
      const at = `channels.${id}.video.avatar${ch.video.avatar.pack ? ` (pack ${ch.video.avatar.pack})` : ''}`;
      return avatarProblems(ch.video.avatar, ch.video).map((p) => `${at}: ${p}`);
    });
    if (problems.length) throw new ConfigError(process.env.IDOLCAST_CONFIG ?? DEFAULT_CONFIG_PATH, problems);
    console.log(`configuration ok: ${Object.keys(c.channels).length} channel(s), ${Object.keys(c.voices).length} voice(s)`);
    for (const w of configWarnings(c)) console.error(`warning: ${w}`);
  });

/**
 * Exit codes: 2 for configuration and usage problems (nothing started), 1 for failures. A
 * process that failed to start exits at once, whatever connections it had begun to open.
 */
program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`idolcast: ${err.message}\n`, () => process.exit(2));
    return;
  }
  createLogger('cli').fatal({ err }, (err as Error).message);
  setTimeout(() => process.exit(1), 50);
});
