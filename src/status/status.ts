import type { Registry } from 'prom-client';
import { MEMBER_KINDS } from '../../queues/catalog';
import { Queues } from '../../queues/registry';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { allQueues } from '../control/metrics-page';
import { listFleet, type FleetMember } from '../fleet';
import { redactUrl } from '../logger';
import { redisTarget } from '../process';
import { createRedis, keyspace, type Keyspace, type Redis } from '../redis';
import { engineBreakers, type EngineBreaker } from '../tts/breaker-state';
import { sleep } from '../time';
import { collectAiStatus, formatAiStatus, type AiStatus } from './ai-status';

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

const DEPTHS = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
/** Rates count the BullMQ events of the last minute (stream ids are ms timestamps). */
const RATE_WINDOW_MS = 60_000;
/**
 * At most this many events read per queue: below BullMQ's stream cap (10,000), so a window
 * cut short by the limit is known and the rate is scaled from the span actually read.
 */
const RATE_READ_LIMIT = 5000;

export interface QueueStatus {
  queue: string;
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  failed: number;
  completedPerMin: number;
  failedPerMin: number;
}

export interface DestinationStatus {
  destination: string;
  onAir: boolean | null;
  reconnects: number;
}

export interface ChannelStatus {
  channel: string;
  /** Member id of the broadcaster holding the channel, if any is live. */
  active: string | null;
  standbys: number;
  encoderRunning: boolean | null;
  /** The active broadcaster's session with VTube Studio (null: not configured, or no active broadcaster). */
  vtubeStudio: boolean | null;
  destinations: DestinationStatus[];
}

export interface StatusReport {
  at: number;
  prefix: string;
  queues: QueueStatus[];
  /** Live fleet members per kind (every kind the fleet runs, 0 when none is live). */
  fleet: { kind: string; live: number; activeJobs: number; processed: number }[];
  breakers: EngineBreaker[];
  /** The fleet's degradation level as ingest last shared it (null: not measured lately). */
  degradation: { level: number; cause?: string; since?: number } | null;
  channels: ChannelStatus[];
  /** AI replies: on or off and who set it, each engine's breaker and budget, each channel's engine and queues. */
  ai: AiStatus;
}

const FLEET_KINDS = ['control', ...MEMBER_KINDS];

/** Completed and failed events per minute of one queue, from its BullMQ event stream. */
async function queueRates(redis: Redis, eventsKey: string, now: number): Promise<{ completedPerMin: number; failedPerMin: number }> {
  const entries = await redis.xrevrange(eventsKey, '+', String(now - RATE_WINDOW_MS), 'COUNT', RATE_READ_LIMIT);
  let completed = 0;
  let failed = 0;
  for (const [, fields] of entries) {
    const event = fields[fields.indexOf('event') + 1];
    if (event === 'completed') completed++;
    else if (event === 'failed') failed++;
  }
  const oldest = entries.length === RATE_READ_LIMIT ? Number(entries[entries.length - 1]![0].split('-')[0]) : now - RATE_WINDOW_MS;
  const perMin = RATE_WINDOW_MS / Math.max(1000, now - oldest);
  return { completedPerMin: Math.round(completed * perMin), failedPerMin: Math.round(failed * perMin) };
}

function metricValues(sets: MetricsJson | undefined, name: string) {
  return sets?.find((m) => m.name === name)?.values ?? [];
}

/** The broadcast side of each channel: who holds it, the encoder and every destination. */
function channelStatus(config: Config, members: FleetMember[], metricsOf: Map<string, MetricsJson>): ChannelStatus[] {
  return Object.entries(config.channels).map(([channel, c]) => {
    const broadcasters = members.filter((m) => m.kind === 'broadcast' && m.detail.channel === channel);
    const active = broadcasters.find((m) => m.detail.role === 'active');
    const metrics = active ? metricsOf.get(active.id) : undefined;
    const onAir = metricValues(metrics, 'idolcast_destination_on_air');
    const reconnects = metricValues(metrics, 'idolcast_destination_reconnects_total');
    const destinations = Object.entries(c.destinations)
      .filter(([, d]) => d.enabled)
      .map(([destination]) => {
        const on = onAir.find((v) => v.labels.channel === channel && v.labels.destination === destination);
        const re = reconnects.find((v) => v.labels.channel === channel && v.labels.destination === destination);
        return { destination, onAir: on ? on.value === 1 : active ? false : null, reconnects: re?.value ?? 0 };
      });
    return {
      channel,
      active: active?.id ?? null,
      standbys: broadcasters.length - (active ? 1 : 0),
      encoderRunning: typeof active?.detail.encoderRunning === 'boolean' ? active.detail.encoderRunning : null,
      vtubeStudio: c.video.avatar.vtubeStudio.enabled && typeof active?.detail.vtubeStudio === 'boolean' ? active.detail.vtubeStudio : null,
      destinations,
    };
  });
}

/**
 * One snapshot of the fleet as Redis sees it: queues, members, breakers, what is on air, the AI.
 */
export async function collectStatus(config: Config, redis: Redis, keys: Keyspace, queues: Queues, now = Date.now()): Promise<StatusReport> {
  const members = await listFleet(redis, keys, config.workers.heartbeatMs);
  const queueList = allQueues(config, queues);
  const [queueStatus, published, breakers, degradation, ai] = await Promise.all([
    Promise.all(
      queueList.map(async (q): Promise<QueueStatus> => {
        const [counts, rates] = await Promise.all([q.getJobCounts(...DEPTHS), queueRates(redis, q.keys.events!, now)]);
        return { queue: q.name, waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 0, ...counts, ...rates };
      }),
    ),
    members.length ? redis.mget(members.map((m) => keys.metrics(m.id))) : Promise.resolve([]),
    engineBreakers(redis, keys, config),
    redis.get(keys.degradation),
    collectAiStatus(config, redis, keys),
  ]);
  const metricsOf = new Map<string, MetricsJson>();
  published.forEach((raw, i) => raw && metricsOf.set(members[i]!.id, JSON.parse(raw) as MetricsJson));

  const kinds = [...new Set([...FLEET_KINDS, ...members.map((m) => m.kind)])];
  const fleet = kinds.map((kind) => {
    const live = members.filter((m) => m.kind === kind);
    const sum = (field: string) => live.reduce((n, m) => n + (typeof m.detail[field] === 'number' ? m.detail[field] : 0), 0);
    return { kind, live: live.length, activeJobs: sum('active'), processed: sum('processed') };
  });
  return {
    at: now, prefix: keys.prefix, queues: queueStatus, fleet, breakers,
    degradation: degradation ? (JSON.parse(degradation) as StatusReport['degradation']) : null,
    channels: channelStatus(config, members, metricsOf),
    ai,
  };
}

const pad = (v: unknown, n: number) => String(v).padStart(n);

/** The one-screen text form of a report. */
export function formatStatus(r: StatusReport): string {
  const lines = [`idolcast status  ${new Date(r.at).toISOString()}  prefix ${r.prefix}`, ''];
  lines.push(`${'QUEUE'.padEnd(22)}${pad('WAITING', 9)}${pad('PRIO', 7)}${pad('ACTIVE', 8)}${pad('DELAYED', 9)}${pad('FAILED', 8)}${pad('DONE/MIN', 10)}${pad('FAIL/MIN', 10)}`);
  for (const q of r.queues) {
    lines.push(`${q.queue.padEnd(22)}${pad(q.waiting, 9)}${pad(q.prioritized, 7)}${pad(q.active, 8)}${pad(q.delayed, 9)}${pad(q.failed, 8)}${pad(q.completedPerMin, 10)}${pad(q.failedPerMin, 10)}`);
  }
  lines.push('', `${'PROCESS'.padEnd(22)}${pad('LIVE', 6)}${pad('BUSY', 6)}${pad('PROCESSED', 11)}`);
  for (const f of r.fleet) lines.push(`${f.kind.padEnd(22)}${pad(f.live, 6)}${pad(f.activeJobs, 6)}${pad(f.processed, 11)}${f.live ? '' : '   ! none live'}`);
  lines.push('', `BREAKERS  ${r.breakers.length ? r.breakers.map((b) => (b.state === 'open' ? `${b.engine} OPEN (probe in ${Math.ceil(b.probeInMs! / 1000)} s)` : `${b.engine} closed`)).join(', ') : 'none (no remote TTS engines)'}`);
  const d = r.degradation;
  lines.push(`DEGRADED  ${d ? (d.level === 0 ? 'no (level 0)' : `LEVEL ${d.level}${d.cause ? ` (${d.cause})` : ''}${d.since ? ` since ${new Date(d.since).toISOString()}` : ''}`) : 'unknown (no ingest measuring)'}`);
  lines.push(...formatAiStatus(r.ai, r.at));
  lines.push('', 'ON AIR');
  for (const c of r.channels) {
    const who = c.active ? `broadcaster ${c.active}${c.standbys ? ` (+${c.standbys} standby)` : ''}, encoder ${c.encoderRunning === false ? 'DOWN' : 'running'}` : `! no active broadcaster${c.standbys ? ` (${c.standbys} standby)` : ''}`;
    lines.push(`  ${c.channel.padEnd(20)}${who}`);
    for (const d of c.destinations) lines.push(`    ${d.destination.padEnd(18)}${d.onAir === null ? 'unknown' : d.onAir ? 'on air' : 'OFF AIR'}${d.reconnects ? `  (${d.reconnects} reconnects)` : ''}`);
    if (!c.destinations.length) lines.push('    (no destinations configured: local live view only)');
    if (c.vtubeStudio !== null) lines.push(`    ${'VTube Studio'.padEnd(18)}${c.vtubeStudio ? 'connected' : 'NOT CONNECTED'}`);
  }
  return lines.join('\n');
}

/** Where the CLI connects, for an error message (no credentials). */
function describeTarget(config: Config): string {
  const t = redisTarget(config);
  if (t.cluster?.length) return `Redis Cluster via ${t.cluster.join(', ')}`;
  return t.sentinels?.length ? `master "${t.sentinelName}" via sentinels ${t.sentinels.join(', ')}` : redactUrl(t.url);
}

/**
 * Resolve once the connection is ready; reject with the connection error after `attempts` failed
 * attempts in a row (a Redis that is just restarting gets ~1.5 s of reconnects) or after `ms`.
 */
function ready(redis: Redis, ms: number, attempts = 3): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let last: Error | undefined;
    let failed = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('error', onError);
      redis.off('ready', onReady);
      if (err) reject(err);
      else resolve();
    };
    const onError = (err: Error) => {
      last = err;
      if (++failed >= attempts) done(err);
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(last ?? new Error(`no answer within ${ms / 1000} s`)), ms);
    redis.on('error', onError);
    redis.once('ready', onReady);
  });
}

/**
 * `idolcast status`: print the report once, or redraw it every `watchSeconds` until SIGINT or
 * SIGTERM. Redis unreachable at the start is one line on stderr and exit code 1; while
 * watching, a lost Redis is shown on the screen and the next refresh tries again.
 */
export async function runStatus(opts: { watchSeconds?: number; json?: boolean }): Promise<void> {
  const config = loadConfig();
  const keys = keyspace(config.redis.prefix);
  const redis = createRedis(redisTarget(config), { name: 'status' });
  redis.on('error', () => {}); // reported by `ready` and by the refresh that fails
  const queues = new Queues(redis, config.redis.prefix);
  for (const q of allQueues(config, queues)) q.on('error', () => {});
  const close = async () => {
    await queues.close().catch(() => {});
    redis.disconnect();
  };
  try {
    await ready(redis, 5000);
  } catch (err) {
    await close();
    process.stderr.write(`idolcast status: cannot reach Redis (${describeTarget(config)}): ${(err as Error).message || (err as NodeJS.ErrnoException).code}\n`);
    process.exitCode = 1;
    return;
  }
  const show = (text: string) => process.stdout.write(opts.watchSeconds && process.stdout.isTTY && !opts.json ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`);
  const draw = async () => {
    const report = await collectStatus(config, redis, keys, queues);
    show(opts.json ? JSON.stringify(report) : formatStatus(report));
  };
  try {
    if (!opts.watchSeconds) return await draw();
    const stopped = new AbortController();
    const stop = () => stopped.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    while (!stopped.signal.aborted) {
      try {
        await draw();
      } catch (err) {
        const line = `Redis unreachable (${describeTarget(config)}): ${(err as Error).message}; retrying every ${opts.watchSeconds} s`;
        show(opts.json ? JSON.stringify({ at: Date.now(), error: line }) : `idolcast status  ${new Date().toISOString()}\n\n${line}`);
      }
      await sleep(opts.watchSeconds * 1000, stopped.signal);
    }
  } catch (err) {
    process.stderr.write(`idolcast status: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await close();
  }
}
