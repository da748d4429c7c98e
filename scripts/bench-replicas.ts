/**
 * `BENCH_ONLY=replicas`: tts jobs/s with 1, 2 and 4 tts worker processes (concurrency fixed)
 * against the loopback cloud TTS answering every request after a fixed 300 ms, and each figure's
 * ratio to linear scaling (jobs/s(n) / (n × jobs/s(1))). This is what the KEDA scaling of the tts
 * workers (docker/k8s) relies on. Its own file: bench.ts is past the length a file should have.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import YAML from 'yaml';
import type { Job } from 'bullmq';
import { Queues, type Payload } from '../queues/registry';
import { keyspace, type Redis } from '../src/redis';
import { sleep } from '../src/time';
import { FAKE_KEY, FakeTts } from '../testkit/fake-tts';
import { cpuSeconds, listProcesses } from '../testkit/procfs';
import { log } from './bench-kit';

/** What the section needs of the bench: its Redis, its config file and its process spawner. */
export interface ReplicaBench {
  readonly dir: string;
  readonly configPath: string;
  readonly prefix: string;
  readonly url: string;
  readonly redis: Redis;
  spawn(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  stopChildren(): Promise<void>;
  flush(): Promise<void>;
}

const REQUEST_MS = 300;
const CONCURRENCY = 4;
const REPLICAS = [1, 2, 4] as const;
/** Jobs per replica slot in a measured run: 30 waves of 300 ms requests, about 9 s at linear scaling (a hiccup of the shared machine weighs less). */
const WAVES = 30;

/** A distinct line per job (one part, under tts.firstPartMaxChars), so no answer could come from any cache. */
function payload(i: number, run: string): Payload<'tts'> {
  return { utteranceId: `${run}-${i}`, channel: 'main', text: `Replica line ${run} number ${i}, thank you for watching.`, voice: 'cloud', priority: 2, acceptedAt: Date.now(), origin: { platform: 'bench', user: `u${i % 500}` } };
}

/**
 * The bench config plus a cloud voice on the fake, the cache off, and a first-audio deadline and
 * breaker timeout far above the fake's 300 ms, so neither can cut a request short in a busy run.
 */
function writeConfig(b: ReplicaBench, fakeUrl: string): string {
  const file = path.join(b.dir, 'replicas.yaml');
  const base = YAML.parse(fs.readFileSync(b.configPath, 'utf8')) as { tts?: Record<string, unknown> };
  const tts = { ...base.tts, cache: { enabled: false }, firstAudioDeadlineMs: 20_000, breaker: { timeoutMs: 30_000 }, engines: { loopback: { kind: 'openai', baseUrl: `${fakeUrl}/v1`, model: 'tts' } } };
  const voices = { default: { engine: 'espeak-ng' }, cloud: { engine: 'loopback', voice: 'alloy', fallback: ['default'] } };
  fs.writeFileSync(file, YAML.stringify({ ...base, voices, tts }));
  return file;
}

/** Enqueue `n` lines at once and wait (bounded) until all are finished; the run's completed jobs and the enqueue time. */
async function drain(queues: Queues, n: number, run: string): Promise<{ jobs: Job[]; t0: number }> {
  const tts = queues.queue('tts');
  // Counts include the runs before this one (the warm-up): wait for `n` more.
  const finished = async () => {
    const c = await tts.getJobCounts('completed', 'failed');
    return (c.completed ?? 0) + (c.failed ?? 0);
  };
  const before = await finished();
  const t0 = Date.now();
  await queues.enqueueBulk('tts', Array.from({ length: n }, (_, i) => ({ payload: payload(i, run) })));
  const deadline = Date.now() + 60_000;
  while ((await finished()) - before < n && Date.now() < deadline) await sleep(20);
  return { jobs: (await tts.getJobs(['completed'], 0, n)).filter((j) => j?.id?.startsWith(`${run}-`)), t0 };
}

const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[xs.length >> 1] ?? NaN;

/**
 * Where a job's time goes, from the jobs' own timestamps (not the 20 ms poll) and the moment each
 * request reached the fake: our work before the request, and from the fake's answer (sent 300 ms
 * after the request arrived) to the job's finish. Flat across replica counts unless something is shared.
 */
function jobTimes(jobs: Job[], fake: FakeTts, t0: number) {
  const arrived = new Map(fake.requests.map((r) => [/^Replica line (\S+) number (\d+),/.exec(r.text)?.slice(1, 3).join('-'), r.at]));
  const held = jobs.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0));
  const before = jobs.map((j) => (arrived.get(j.id) ?? NaN) - (j.processedOn ?? 0));
  const after = jobs.map((j) => (j.finishedOn ?? 0) - (arrived.get(j.id) ?? NaN) - REQUEST_MS);
  return {
    seconds: (Math.max(...jobs.map((j) => j.finishedOn ?? 0)) - t0) / 1000,
    byCloud: jobs.filter((j) => (j.returnvalue as { voices?: string[] } | undefined)?.voices?.every((v) => v === 'cloud')).length,
    heldMs: held.reduce((a, x) => a + x, 0),
    // The mean against the median shows a stalled machine: a few jobs held for seconds.
    jobMs: { p50: median(held), mean: Math.round(held.reduce((a, x) => a + x, 0) / held.length), beforeRequestP50: median(before), afterAnswerP50: median(after) },
  };
}

/**
 * CPU spent per job during a run, by whom: the tts workers, this process (the fake TTS answering
 * and the polling), and redis-server; with the wall time, it tells a CPU-bound run from a waiting one.
 */
function cpuMeter(b: ReplicaBench, workers: number[]): (jobs: number) => Record<string, number> {
  const port = new URL(b.url).port;
  const redisPid = listProcesses().find((p) => p.args.startsWith('redis-server') && p.args.includes(`:${port}`))?.pid;
  const read = () => ({ workers: workers.reduce((a, pid) => a + cpuSeconds(pid), 0), benchAndFake: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, redis: redisPid ? cpuSeconds(redisPid) : NaN });
  const from = read();
  return (jobs) => {
    const to = read();
    return Object.fromEntries(Object.entries(to).map(([k, v]) => [k, Math.round(((v - from[k as keyof typeof from]) / jobs) * 1e4) / 10]));
  };
}

/** One replica count: spawn the workers, wait for their heartbeats, warm up, then measure. */
async function measure(b: ReplicaBench, fake: FakeTts, configFile: string, replicas: number) {
  await b.flush();
  const keys = keyspace(b.prefix);
  const pids = Array.from({ length: replicas }, () => b.spawn(['worker', 'tts', '--concurrency', String(CONCURRENCY)], { IDOLCAST_CONFIG: configFile, OPENAI_API_KEY: FAKE_KEY }).pid!);
  for (let i = 0; i < 400 && (await b.redis.zcard(keys.fleet)) < replicas; i++) await sleep(50);
  const queues = new Queues(b.redis, b.prefix);
  try {
    // A warm-up wave per slot: connections to the fake open, code paths compiled, in every process.
    await drain(queues, 2 * replicas * CONCURRENCY, `warm${replicas}`);
    const n = WAVES * replicas * CONCURRENCY;
    const before = fake.requests.length;
    // The machine's load when the run starts: on a shared machine the 4-replica run is the first to starve.
    const loadAvg1m = Math.round(os.loadavg()[0]! * 10) / 10;
    const cpu = cpuMeter(b, pids);
    // The fake answers from this process: a late event loop here would delay every replica alike.
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const { jobs, t0 } = await drain(queues, n, `rep${replicas}`);
    lag.disable();
    const cpuMsPerJob = cpu(n);
    const fakeLoopLagMs = { p50: Math.round(lag.percentile(50) / 1e5) / 10, p99: Math.round(lag.percentile(99) / 1e5) / 10 };
    const t = jobTimes(jobs, fake, t0);
    const jobsPerSec = Math.round((jobs.length / t.seconds) * 10) / 10;
    // Share of the run the slots held a job: below 1 by the ramp, the tail and slots left idle between jobs.
    const slotsBusy = Math.round((t.heldMs / 1000 / (replicas * CONCURRENCY * t.seconds)) * 100) / 100;
    const result = { replicas, jobs: n, completed: jobs.length, spokenByCloud: t.byCloud, cloudRequests: fake.requests.length - before, seconds: Math.round(t.seconds * 100) / 100, jobsPerSec, jobMs: t.jobMs, slotsBusy, cpuMsPerJob, fakeLoopLagMs, loadAvg1m };
    log('replicas', replicas, jobsPerSec, 'jobs/s');
    return result;
  } finally {
    await queues.close();
    await b.stopChildren();
  }
}

export async function replicaFigures(b: ReplicaBench) {
  const fake = new FakeTts();
  fake.delayMs = REQUEST_MS;
  await fake.ready;
  try {
    const configFile = writeConfig(b, fake.url);
    const runs = [];
    for (const replicas of REPLICAS) runs.push(await measure(b, fake, configFile, replicas));
    const one = runs[0]!.jobsPerSec;
    const ideal = Math.round((1000 / REQUEST_MS) * CONCURRENCY * 10) / 10;
    return {
      requestMs: REQUEST_MS,
      concurrencyPerReplica: CONCURRENCY,
      idealJobsPerSecPerReplica: ideal,
      jobsPerSec: Object.fromEntries(runs.map((r) => [String(r.replicas), r.jobsPerSec])),
      ratioToLinear: Object.fromEntries(runs.map((r) => [String(r.replicas), Math.round((r.jobsPerSec / (r.replicas * one)) * 100) / 100])),
      // Against n × 4 requests per 300 ms: steadier than ratioToLinear when the 1-replica run itself was starved.
      ratioToIdeal: Object.fromEntries(runs.map((r) => [String(r.replicas), Math.round((r.jobsPerSec / (r.replicas * ideal)) * 100) / 100])),
      runs,
    };
  } finally {
    await fake.close();
  }
}
