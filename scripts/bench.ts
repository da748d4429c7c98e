/**
 * `npm run bench`: throughput and latency figures of idolcast, each compared with raw BullMQ
 * measured in the same run against the same Redis (a loopback redis-server of its own), printed
 * as one JSON object on stdout. Progress goes to stderr. Every loop is bounded in count and time.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import YAML from 'yaml';
import { Queues, queueName } from '../queues/registry';
import { createLogger } from '../src/logger';
import { createMetrics } from '../src/metrics';
import { createRedis, keyspace } from '../src/redis';
import { LOCAL_ENGINE } from '../src/config/schema';
import { EspeakEngine } from '../src/tts/espeak.engine';
import { remoteEngines } from '../src/tts/remote-engines';
import { SpeechService } from '../src/tts/speech-service';
import { FakeObs } from '../testkit/fake-obs';
import { FAKE_KEY, FakeTts } from '../testkit/fake-tts';
import { sleep } from '../src/time';
import { Bench, chatEvent, log, percentile, round1, sentence, ttsPayload } from './bench-kit';
import { enqueueThroughput, ingestThroughput, workerThroughput } from './bench-queues';
import { liveFigures } from './bench-live';
import { hopMedians, hopTimes } from './bench-hops';
import { replicaFigures } from './bench-replicas';
import { aiFigures } from './bench-ai';
import { avatarFigures, avatarSeconds } from './bench-avatar';
import { audibleLatencies, cpuShareDuring, startStream } from './bench-stream';
import { runMain } from './run-main';


/**
 * Offer chat (or say) at `rate` per second for `seconds` through the real fleet (ingest, tts and
 * audio worker processes) and measure acceptedAt → the line's playout job being added.
 */
async function offer(b: Bench, rate: number, seconds: number, via: 'chat' | 'tts', queues: Queues, events: QueueEvents, run: string) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const onAdded = ({ jobId }: { jobId: string }) => {
    const t0 = sentAt.get(jobId);
    if (t0 !== undefined) latencies.push(Date.now() - t0);
  };
  events.on('added', onAdded);
  const total = rate * seconds;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    if (via === 'chat') {
      const e = chatEvent(i, run);
      sentAt.set(`local-${e.id}`, e.acceptedAt);
      queues.enqueue('chat', e).catch((err: Error) => log(`enqueue failed: ${err.message}`));
    } else {
      const p = ttsPayload(i, run);
      sentAt.set(p.utteranceId, p.acceptedAt);
      queues.enqueue('tts', p).catch((err: Error) => log(`enqueue failed: ${err.message}`));
    }
  }
  // Let the tail arrive (bounded).
  const deadline = Date.now() + 10_000;
  while (latencies.length < total && Date.now() < deadline) await sleep(50);
  events.off('added', onAdded);
  const waiting = async (k: 'tts' | 'audio') => (await queues.queue(k).getJobCounts('waiting', 'prioritized')) as Record<string, number>;
  const backlog = Object.values(await waiting('tts')).reduce((a, v) => a + v, 0) + Object.values(await waiting('audio')).reduce((a, v) => a + v, 0);
  return { offeredPerSec: rate, seconds, sent: total, ready: latencies.length, p50Ms: round1(percentile(latencies, 50)), p99Ms: round1(percentile(latencies, 99)), maxMs: round1(percentile(latencies, 100)), backlogAtEnd: backlog };
}

async function fleetLatency(b: Bench) {
  await b.flush();
  b.spawn(['ingest']);
  b.spawn(['worker', 'tts']);
  b.spawn(['worker', 'audio']);
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  const events = new QueueEvents(queueName('playout', 'main'), { connection: createRedis(b.url, { forWorker: true }), prefix: b.prefix });
  await events.waitUntilReady();
  // Wait for the workers to be up (heartbeats), bounded.
  const keys = keyspace(b.prefix);
  for (let i = 0; i < 200 && (await redis.zcard(keys.fleet)) < 3; i++) await sleep(50);
  await offer(b, 5, 2, 'chat', queues, events, 'warm');

  log('latency: chat at 20/s for 15 s');
  const chat = await offer(b, 20, 15, 'chat', queues, events, 'lat');
  const steps = [];
  let sustained = 0;
  for (const rate of [20, 40, 80, 160, 320]) {
    await queues.queue('playout', 'main').obliterate({ force: true });
    const step = await offer(b, rate, 8, 'tts', queues, events, `say${rate}`);
    const ok = step.ready === step.sent && step.p99Ms < 1000 && step.backlogAtEnd < rate;
    steps.push({ ...step, keptUp: ok });
    log('say step', rate, ok, step.p50Ms, step.p99Ms);
    if (!ok) break;
    sustained = rate;
  }
  await events.close();
  await queues.close();
  redis.disconnect();
  await b.stopChildren();
  return { chat, say: { maxSustainedPerSec: sustained, steps } };
}

/**
 * TTS: time to first audio and real-time factor per engine (local espeak-ng and a loopback
 * OpenAI-compatible provider), cache-hit latency, and tts worker throughput at concurrency 4.
 */
async function ttsFigures(b: Bench) {
  await b.flush();
  const fake = new FakeTts();
  await fake.ready;
  const base = b.config();
  const config = {
    ...base,
    voices: { ...base.voices, cloud: { engine: 'loopback', voice: 'alloy', speed: 165, pitch: 50, params: {}, fallback: ['default'] } },
    tts: { ...base.tts, engines: { loopback: { kind: 'openai' as const, baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY, model: 'tts' } } },
  };
  const redis = createRedis(b.url);
  const keys = keyspace(b.prefix);
  const engines = { [LOCAL_ENGINE]: new EspeakEngine('espeak-ng', 10000), ...remoteEngines(config.tts.engines) };
  const metrics = createMetrics('bench', 'bench');
  const quiet = createLogger('bench', 'warn');
  const uncached = new SpeechService({ config, redis, keys, log: quiet, metrics, engines });
  const cached = new SpeechService({ config: { ...config, tts: { ...config.tts, cache: { ...config.tts.cache, enabled: true } } }, redis, keys, log: quiet, metrics, engines });
  const perEngine: Record<string, { ttfaP50Ms: number; ttfaP99Ms: number; realTimeFactorP50: number }> = {};
  for (const voice of ['default', 'cloud']) {
    const ttfa: number[] = [];
    const rtf: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      const part = await uncached.speakPart(sentence(i), voice, quiet);
      const ms = performance.now() - t;
      ttfa.push(ms);
      rtf.push(ms / 1000 / (part.pcm.length / 2 / part.format.sampleRate));
    }
    perEngine[voice === 'cloud' ? 'loopback-openai' : LOCAL_ENGINE] = { ttfaP50Ms: round1(percentile(ttfa, 50)), ttfaP99Ms: round1(percentile(ttfa, 99)), realTimeFactorP50: Math.round(percentile(rtf, 50) * 1e4) / 1e4 };
  }
  await cached.speakPart('A line the idol says every hour.', 'default', quiet);
  const hits: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await cached.speakPart('A line the idol says every hour.', 'default', quiet);
    hits.push(performance.now() - t);
  }
  uncached.shutdown();
  cached.shutdown();
  await fake.close();

  // tts worker throughput: one process at concurrency 4, the local voice, 400 lines.
  await b.flush();
  b.spawn(['worker', 'tts', '--concurrency', '4']);
  for (let i = 0; i < 200 && (await redis.zcard(keys.fleet)) < 1; i++) await sleep(50);
  const queues = new Queues(redis, b.prefix);
  const n = 400;
  const t = performance.now();
  await queues.enqueueBulk('tts', Array.from({ length: n }, (_, i) => ({ payload: ttsPayload(i, 'ttsw') })));
  const tts = queues.queue('tts');
  const deadline = Date.now() + 120_000;
  while (((await tts.getJobCounts('completed')).completed ?? 0) < n && Date.now() < deadline) await sleep(50);
  const jobsPerSec = Math.round((n / ((performance.now() - t) / 1000)) * 10) / 10;
  await queues.close();
  redis.disconnect();
  await b.stopChildren();
  return { perEngine, cacheHitP50Ms: round1(percentile(hits, 50)), cacheHitP99Ms: round1(percentile(hits, 99)), ttsWorkerJobsPerSecAtConcurrency4: jobsPerSec };
}

/**
 * Scenes: from enqueueing a scene job to the request arriving at a loopback obs-websocket v5
 * server (with authentication), through the real scene worker process. Each job switches the
 * program scene (dwell time 0), so each one makes exactly one SetCurrentProgramScene.
 */
async function obsFigures(b: Bench) {
  await b.flush();
  const password = randomBytes(12).toString('hex');
  const fake = new FakeObs({ password });
  await fake.ready;
  const obsConfig = path.join(b.dir, 'obs.yaml');
  const base = YAML.parse(fs.readFileSync(b.configPath, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(obsConfig, YAML.stringify({ ...base, obs: { enabled: true, url: fake.url, minSceneDwellMs: 0 } }));
  b.spawn(['worker', 'scene'], { IDOLCAST_CONFIG: obsConfig, OBS_PASSWORD: password });
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  // Connected and the (empty) state re-applied: the first GetCurrentProgramScene.
  await fake.waitFor((r) => r.type === 'GetCurrentProgramScene', 20_000);
  const scenes = ['Live', 'BRB'];
  const samples: number[] = [];
  const n = 300;
  for (let i = 0; i < n + 20; i++) {
    const sceneName = scenes[i % 2]!;
    const since = fake.requests.length;
    const t = performance.now();
    await queues.enqueue('scene', { channel: 'main', scene: sceneName });
    const r = await fake.waitFor((x) => x.type === 'SetCurrentProgramScene' && x.data.sceneName === sceneName, 10_000, since);
    if (i >= 20) samples.push(r.hr - t);
  }
  await queues.close();
  redis.disconnect();
  await b.stopChildren();
  await fake.close();
  return { sceneJobToObsRequestMs: { p50: round1(percentile(samples, 50)), p99: round1(percentile(samples, 99)), jobs: samples.length } };
}

/**
 * Broadcast: chat message → speech audible in the stream pulled back from a local nginx-rtmp
 * (the path a platform viewer gets, minus the internet), one line at a time with the playout idle
 * before each; and the broadcaster's CPU share (with its ffmpeg children) idle and speaking.
 */
async function rtmpFigures(b: Bench, lines = 50) {
  await b.flush();
  const stream = await startStream(b, { name: 'rtmp', workers: [['ingest'], ['worker', 'tts'], ['worker', 'audio']] });
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  try {
    const pid = stream.broadcaster.pid!;
    const idleShare = await cpuShareDuring(pid, () => sleep(5000));
    let latencies: number[] = [];
    const hops: Record<string, number>[] = [];
    const speakingShare = await cpuShareDuring(pid, async () => {
      latencies = await audibleLatencies(stream.viewer, lines, async (i) => {
        const e = chatEvent(i, `rtmp${i}`);
        const sentAt = Date.now();
        await queues.enqueue('chat', { ...e, text: `Line ${i}: hello stream.`, acceptedAt: sentAt, timestamp: sentAt });
        // Where the line's time went, once it is heard.
        return { sentAt, heard: async (heardAt: number) => { const hop = await hopTimes(queues, e, sentAt, heardAt); if (hop) hops.push(hop); } };
      }, { timeoutMs: 3000, settleMs: 6000 });
    });
    return {
      lines,
      heard: latencies.length,
      chatToAudibleMs: { p50: round1(percentile(latencies, 50)), p99: round1(percentile(latencies, 99)), max: round1(percentile(latencies, 100)) },
      hopMediansMs: hopMedians(hops),
      broadcasterCpuShare: { idle: idleShare, speaking: speakingShare, note: 'CPU seconds per second of the broadcaster and its ffmpeg children (1.0 = one core)' },
      targets: { p50Ms: 120, p99Ms: 200 },
    };
  } finally {
    await queues.close();
    redis.disconnect();
    await stream.stop();
  }
}

async function main(): Promise<void> {
  const b = new Bench();
  const guard = setTimeout(() => {
    log('bench took too long: stopping');
    void b.close().finally(() => process.exit(1));
  }, 30 * 60_000); // the avatar's sustained run alone is 5 minutes
  try {
    await b.start();
    if (process.env.BENCH_ONLY === 'rtmp') {
      // Just the broadcast figures (`BENCH_ONLY=rtmp npm run bench`).
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, rtmp: await rtmpFigures(b, Number(process.env.BENCH_LINES ?? 50)) }, null, 2));
      return;
    }
    if (process.env.BENCH_ONLY === 'obs') {
      // Just the scene figures (`BENCH_ONLY=obs npm run bench`).
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, obs: await obsFigures(b) }, null, 2));
      return;
    }
    if (process.env.BENCH_ONLY === 'ai' || process.env.BENCH_ONLY === 'avatar') {
      const figures = process.env.BENCH_ONLY === 'ai' ? { ai: await aiFigures(b, Number(process.env.BENCH_AI_LINES ?? 15)) } : { avatar: await avatarFigures(b, avatarSeconds()) };
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, ...figures }, null, 2));
      return;
    }
    if (process.env.BENCH_ONLY === 'replicas') {
      // Just tts jobs/s with 1, 2 and 4 worker replicas against the 300 ms fake (`BENCH_ONLY=replicas npm run bench`).
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, replicas: await replicaFigures(b) }, null, 2));
      return;
    }
    if (process.env.BENCH_ONLY === 'live') {
      // Just chat → audible on the live page in Chromium, low-latency and HLS (`BENCH_ONLY=live npm run bench`).
      const lines = Number(process.env.BENCH_LINES ?? 30);
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, live: await liveFigures(b, { lines }), liveHls: await liveFigures(b, { lines, hls: true }) }, null, 2));
      return;
    }
    log('enqueue throughput');
    const enqueue = await enqueueThroughput(b);
    if (process.env.BENCH_ONLY === 'ingest') {
      // Just the command processor against raw addBulk (`BENCH_ONLY=ingest npm run bench`).
      const ingest = await ingestThroughput(b);
      console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, baseline: { addBulkJobsPerSec: Math.round(enqueue.raw) }, ingest, target: 0.8 }, null, 2));
      return;
    }
    log('worker throughput');
    const worker = await workerThroughput(b);
    log('ingest throughput');
    const ingest = await ingestThroughput(b);
    const latency = await fleetLatency(b);
    log('tts figures');
    const tts = await ttsFigures(b);
    log('obs figures');
    const obs = await obsFigures(b);
    log('broadcast figures (rtmp)');
    const rtmp = await rtmpFigures(b);
    log('tts replica scaling');
    const replicas = await replicaFigures(b);
    log('live page figures');
    const live = await liveFigures(b);
    const ai = await aiFigures(b);
    const avatar = await avatarFigures(b, avatarSeconds());
    const ratios = { enqueue: Math.round((enqueue.idolcast / enqueue.raw) * 100) / 100, worker: Math.round((worker.idolcast / worker.raw) * 100) / 100, ingest: ingest.ratioToRawAddBulk };
    const targets = { enqueueRatio: 0.8, workerRatio: 0.8, ingestRatio: 0.8, p50Ms: 25, p99Ms: 80 };
    const result = {
      machine: { cpus: os.cpus().length, node: process.version },
      baseline: { addBulkJobsPerSec: Math.round(enqueue.raw), noopWorkerJobsPerSec: Math.round(worker.raw) },
      idolcast: { enqueueBulkJobsPerSec: Math.round(enqueue.idolcast), workerJobsPerSec: Math.round(worker.idolcast), ingestMessagesPerSec: ingest.messagesPerSec },
      ratios,
      ingest, // pairs, and each side's CPU (scripts/bench-queues.ts; alone: BENCH_ONLY=ingest)
      latency: { chatToSpeechReadyMs: latency.chat },
      maxSustainedSayRate: latency.say,
      tts,
      obs,
      rtmp,
      replicas,
      live,
      ai, avatar, // scripts/bench-ai.ts and scripts/bench-avatar.ts; alone: BENCH_ONLY=ai, BENCH_ONLY=avatar
      targets,
      pass: {
        enqueueRatio: ratios.enqueue >= targets.enqueueRatio,
        workerRatio: ratios.worker >= targets.workerRatio,
        ingestRatio: ratios.ingest >= targets.ingestRatio,
        p50: latency.chat.p50Ms <= targets.p50Ms,
        p99: latency.chat.p99Ms <= targets.p99Ms,
      },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    clearTimeout(guard);
    await b.close();
  }
}

runMain(main);
