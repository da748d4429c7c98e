import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { Queues } from '../queues/registry';
import { runBroadcast } from './broadcast/broadcaster';
import { runIngest } from './chat/ingest';
import { normaliseText } from './chat/normalise';
import { ConfigError, loadConfig } from './config/load';
import { WORKER_KINDS, type WorkerKind } from './config/schema';
import { runControl } from './control/server';
import { listFleet } from './fleet';
import { createLogger } from './logger';
import { redisUrl } from './process';
import { createRedis, keyspace } from './redis';
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
    const voice = opts.voice ?? config.defaultVoice;
    if (!(voice in config.voices)) throw new ConfigError('--voice', [`--voice: no voice "${voice}" (voices: ${Object.keys(config.voices).join(', ')})`]);
    const channel = opts.channel ?? config.defaultChannel;
    if (!(channel in config.channels)) throw new ConfigError('--channel', [`--channel: no channel "${channel}"`]);
    const { text } = normaliseText(words.join(' '), config.tts.maxTextLength);
    if (!text) throw new ConfigError('text', ['text: nothing to say after normalisation']);
    const redis = createRedis(redisUrl(config));
    const keys = keyspace(config.redis.prefix);
    const queues = new Queues(redis, config.redis.prefix);
    const utteranceId = `say-${randomUUID()}`;
    const sub = opts.wait ? redis.duplicate() : undefined;
    const aired = sub
      ? new Promise<Record<string, unknown>>((resolve) => {
          sub.on('message', (_c: string, m: string) => {
            const e = JSON.parse(m) as Record<string, unknown>;
            if (e.utteranceId === utteranceId && e.type === 'onair-end') resolve(e);
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
    const redis = createRedis(redisUrl(config));
    try {
      const members = await listFleet(redis, keyspace(config.redis.prefix), config.workers.heartbeatMs);
      for (const m of members) console.log(`${m.kind.padEnd(20)} ${m.id.padEnd(48)} up ${Math.round((Date.now() - m.startedAt) / 1000)}s ${JSON.stringify(m.detail)}`);
      if (!members.length) console.log('no live fleet members');
    } finally {
      await redis.quit();
    }
  });

const config = program.command('config').description('configuration tools');
config
  .command('check')
  .description('validate the configuration (IDOLCAST_CONFIG or the built-in default) and exit')
  .action(() => {
    const c = loadConfig();
    console.log(`configuration ok: ${Object.keys(c.channels).length} channel(s), ${Object.keys(c.voices).length} voice(s)`);
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
