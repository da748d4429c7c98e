import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { programOf, rssMb, type ProcessInfo } from '../testkit/procfs';
import { LocalFleet } from './harness';
import { sleep } from '../src/time';
import { runMain } from './run-main';

/**
 * `npm run soak -- --minutes N --rate R`: the whole fleet with chat at R messages/s for N minutes.
 * Every sample period it records each process's RSS, each fleet member's event-loop delay (p99),
 * Redis used_memory, queue depths and the longest silence on air, into a JSON file written as it
 * goes (an interrupted soak keeps its samples); at the end it prints a summary: RSS drift per hour
 * after warm-up, Redis memory slope, p99 event-loop delay, gaps.
 */
const number = (what: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${what} must be a number ≥ ${min}`);
  return n;
};
const opts = new Command()
  .option('--minutes <n>', 'how long to run', number('minutes', 0.1), 60)
  .option('--rate <r>', 'chat messages per second', number('rate', 0.1), 50)
  .option('--sample-seconds <s>', 'time between samples', number('sample-seconds', 5), 60)
  .option('--warmup-samples <n>', 'samples left out of the drift figures', number('warmup-samples', 0), 5)
  .option('--out <file>', 'where the samples go', 'test-artifacts/soak.json')
  .parse()
  .opts<{ minutes: number; rate: number; sampleSeconds: number; warmupSamples: number; out: string }>();

interface Sample {
  at: number;
  minute: number;
  rssMb: Record<string, number>;
  eventLoopP99Ms: Record<string, number>;
  /** V8 heap in use per fleet member kind: a JS leak grows this; RSS growing alone is the allocator settling. */
  heapUsedMb: Record<string, number>;
  redisUsedMemoryMb: number;
  queueDepths: Record<string, number>;
  longestSilenceMs: number;
  sent: number;
  spoken: number;
}

/**
 * A short name per fleet process: `worker-tts`, `broadcast`, `ffmpeg-encoder`, `ffmpeg-pusher`,
 * `redis-server`; undefined for the watchdog's per-segment ffmpeg probes, which live a fraction of
 * a second and would read as memory jumps of whichever sample happens to catch one.
 */
function processName(p: ProcessInfo): string | undefined {
  const m = /cli\.js (worker \w+|broadcast|ingest|control)/.exec(p.args);
  if (m) return m[1]!.replace(' ', '-');
  const program = programOf(p);
  if (program !== 'ffmpeg') return program;
  return p.args.includes('index.m3u8') ? 'ffmpeg-encoder' : p.args.includes(' -f flv ') ? 'ffmpeg-pusher' : undefined;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den ? num / den : 0;
}

async function sample(fleet: LocalFleet, from: number, minute: number, sentIds: string[]): Promise<Sample> {
  const rss: Record<string, number> = {};
  for (const p of fleet.processes()) {
    const mb = rssMb(p.pid);
    if (mb === undefined) continue;
    const name = processName(p);
    if (!name) continue;
    rss[name] = Math.round(((rss[name] ?? 0) + mb) * 10) / 10; // several ffmpeg of one kind add up
  }
  const loop: Record<string, number> = {};
  const heap: Record<string, number> = {};
  const members = await fleet.redis.zrange(fleet.keys.fleet, '0', '-1');
  for (const id of members) {
    const raw = await fleet.redis.get(fleet.keys.metrics(id));
    if (!raw) continue;
    const metrics = JSON.parse(raw) as { name: string; values: { value: number }[] }[];
    const value = (name: string) => metrics.find((m) => m.name === name)?.values[0]?.value;
    const kind = id.replace(/-[^-]+-\d+-[0-9a-f]+$/, '');
    const p99 = value('idolcast_nodejs_eventloop_lag_p99_seconds');
    if (p99 !== undefined) loop[kind] = Math.max(loop[kind] ?? 0, Math.round(p99 * 10000) / 10);
    const used = value('idolcast_nodejs_heap_size_used_bytes');
    if (used !== undefined) heap[kind] = Math.round(((heap[kind] ?? 0) + used / 1048576) * 10) / 10;
  }
  const info = await fleet.redis.info('memory');
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  const books = fleet.account(sentIds);
  return {
    at: Date.now(),
    minute,
    rssMb: rss,
    eventLoopP99Ms: loop,
    heapUsedMb: heap,
    redisUsedMemoryMb: Math.round(used / 10485.76) / 100,
    queueDepths: await fleet.depths(),
    longestSilenceMs: fleet.longestSilenceMs(from, Date.now()),
    sent: books.sent,
    spoken: books.spoken,
  };
}

function summarise(samples: Sample[], warmup: number) {
  const steady = samples.slice(Math.min(warmup, Math.max(0, samples.length - 2)));
  const hours = (s: Sample) => (s.at - steady[0]!.at) / 3_600_000;
  /** Least-squares drift of one figure per name, in % of its mean per hour. */
  const driftPercentPerHour = (of: (s: Sample) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const name of new Set(steady.flatMap((s) => Object.keys(of(s) ?? {})))) {
      const pts = steady.filter((s) => of(s)?.[name] !== undefined).map((s) => [hours(s), of(s)[name]!] as [number, number]);
      const mean = pts.reduce((a, [, y]) => a + y, 0) / Math.max(1, pts.length);
      out[name] = mean ? Math.round((slope(pts) / mean) * 1000) / 10 : 0;
    }
    return out;
  };
  const rssDriftPercentPerHour = driftPercentPerHour((s) => s.rssMb);
  const redisPts = steady.map((s) => [hours(s), s.redisUsedMemoryMb] as [number, number]);
  return {
    samples: samples.length,
    steadySamples: steady.length,
    rssDriftPercentPerHour,
    worstRssDriftPercentPerHour: Math.max(0, ...Object.values(rssDriftPercentPerHour)),
    heapDriftPercentPerHour: driftPercentPerHour((s) => s.heapUsedMb),
    redisUsedMemoryMb: { first: steady[0]?.redisUsedMemoryMb, last: steady.at(-1)?.redisUsedMemoryMb, slopeMbPerHour: Math.round(slope(redisPts) * 100) / 100 },
    eventLoopP99MsMax: Math.max(0, ...samples.flatMap((s) => Object.values(s.eventLoopP99Ms))),
    longestSilenceMs: Math.max(0, ...steady.map((s) => s.longestSilenceMs)),
    maxQueueDepths: Object.fromEntries(Object.keys(samples[0]?.queueDepths ?? {}).map((k) => [k, Math.max(...samples.map((s) => s.queueDepths[k] ?? 0))])),
    sent: samples.at(-1)?.sent,
    spoken: samples.at(-1)?.spoken,
  };
}

async function main(): Promise<void> {
  const fleet = new LocalFleet();
  const samples: Sample[] = [];
  const out = path.resolve(opts.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const write = (extra: Record<string, unknown> = {}) => fs.writeFileSync(out, `${JSON.stringify({ options: opts, samples, ...extra }, null, 1)}\n`);
  let stopping = false;
  process.on('SIGINT', () => (stopping = true));
  process.on('SIGTERM', () => (stopping = true));
  try {
    await fleet.start();
    const ids: string[] = [];
    const end = Date.now() + opts.minutes * 60_000;
    for (let minute = 1; Date.now() < end && !stopping; minute++) {
      const from = Date.now();
      ids.push(...(await fleet.drive(opts.rate, Math.min(opts.sampleSeconds * 1000, end - Date.now()))));
      samples.push(await sample(fleet, from, minute, ids));
      fleet.forgetBefore(from);
      write();
      console.error(`[soak] sample ${minute}: ${JSON.stringify(samples.at(-1))}`);
    }
    await fleet.settle(30_000);
    await sleep(3000);
    const books = fleet.account(ids);
    const summary = { ...summarise(samples, opts.warmupSamples), books: { ...books, lostIds: undefined } };
    write({ summary });
    console.log(JSON.stringify({ options: opts, summary }, null, 2));
  } finally {
    await fleet.stop();
  }
}

runMain(main);
