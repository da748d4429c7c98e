/**
 * `BENCH_ONLY=ai`: AI replies (issue #14) through the real fleet (ingest, reply, tts and audio
 * worker processes) with the loopback model (testkit/fake-llm.ts) writing at a fixed, known pace
 * and its loopback moderator (AI lines air only once a moderator approved them):
 * - the overhead of idolcast on a reply: chat message → the reply's first sentence ready in
 *   playout (the audio worker's `speech-ready`), minus the model's own time to that sentence;
 * - the replies/s one reply worker (at its configured concurrency) keeps up with;
 * - chat → the first AI sentence audible through nginx-rtmp (broadcast delay 0),
 *   BENCH_AI_LINES questions one at a time (15 by default).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { ChatEvent } from '../queues/chat-event.schema';
import { Queues } from '../queues/registry';
import { createRedis, duplicate, keyspace, type Redis } from '../src/redis';
import { sleep } from '../src/time';
import { FAKE_LLM_KEY, FakeLlm } from '../testkit/fake-llm';
import type { ReplicaBench } from './bench-replicas';
import { REPLY_HELD, STAGES, stageTimes } from './bench-ai-stages';
import { audibleLatencies, startStream } from './bench-stream';
import { log, percentile, round1 } from './bench-kit';

/** The loopback model writes one word token every PACE_MS (40 tokens/s)… */
const PACE_MS = 25;
/** …this reply: its first sentence is 6 tokens, so the model has written it PACE_MS × 5 after the request… */
const REPLY = 'Hello there, nice to see you. I am doing great today, thanks for asking.';
const FIRST_SENTENCE_TOKENS = 6;
const MODEL_FIRST_SENTENCE_MS = (FIRST_SENTENCE_TOKENS - 1) * PACE_MS;
/**
 * …on paper: its timers run late when this process is short of CPU, so what is taken off is the
 * time the fake actually wrote that token (a model running late is not idolcast's overhead).
 */
/** Channels the offered replies are spread over, each asked again only every CHANNELS / rate seconds (one channel answers one message per pick window; the rest it skips by design). */
const CHANNELS = 60;
const RATES = [5, 10, 20, 40] as const;
const STEP_SECONDS = 10;
/** The overhead run: 300 replies, so its p99 is the 3rd worst one and not, as with 100, the single worst. */
const FIVE_SECONDS = 60;

const spread = (xs: number[]) => ({ p50: round1(percentile(xs, 50)), p99: round1(percentile(xs, 99)), max: round1(percentile(xs, 100)) });

/** A viewer's question (a reply reason of its own); each from a new viewer, so no cooldown or memory job interferes. */
function question(key: string, channel: string): ChatEvent {
  const now = Date.now();
  const login = `v${key}`;
  return { platform: 'local', channel, id: key, kind: 'message', text: `Question ${key}: how are you today?`, emotes: [], timestamp: now, acceptedAt: now, user: { id: login, login, displayName: login, roles: [] } };
}

/** The AI sections of the config: the persona asks the fake, then canned lines; the fake moderates; no cooldowns, idle talk or greetings. */
function aiConfig(fakeUrl: string, base: Record<string, unknown>) {
  return {
    chat: { ...(base.chat as object), speakPlainMessages: false }, // only the idol's words are heard
    ai: {
      engines: { cloud: { kind: 'openai', baseUrl: `${fakeUrl}/v1`, apiKey: FAKE_LLM_KEY, model: 'fake-gpt' }, canned: { kind: 'canned' } },
      personas: { idol: { name: 'Aiko', chain: ['cloud', 'canned'] } },
      reply: { channelCooldownMs: 0, userCooldownMs: 0, greetFirstTimers: false, sampleRate: 0 },
      idle: { enabled: false },
      safety: { moderation: 'openai', baseUrl: `${fakeUrl}/v1`, apiKey: FAKE_LLM_KEY, delayMs: 0 }, // no broadcast delay: the figures are the pipeline's own
    },
  };
}

/** A reply's first sentence ready in playout: when, and its line id. */
interface Ready {
  at: number;
  utteranceId: string;
}

/** The time each channel's replies had their first sentence ready in playout (wall ms, in order), from the channels' live events. */
async function watchFirstSentences(redis: Redis, prefix: string, channels: string[]) {
  const keys = keyspace(prefix);
  const sub = duplicate(redis);
  const ready = new Map<string, Ready[]>(channels.map((c) => [c, []]));
  const byKey = new Map(channels.map((c) => [keys.events(c), c]));
  sub.on('message', (key: string, raw: string) => {
    const e = JSON.parse(raw) as { type?: string; utteranceId?: string };
    const channel = byKey.get(key);
    if (channel && e.type === 'speech-ready' && /^ai-.+-0$/.test(e.utteranceId ?? '')) ready.get(channel)!.push({ at: Date.now(), utteranceId: e.utteranceId! });
  });
  await sub.subscribe(...byKey.keys());
  return { ready, close: () => sub.quit() };
}

/** When the model was asked about each question (by the question's key in the prompt's last chat block) and wrote its first sentence, from the fake's requests since `from`. */
function askedAt(fake: FakeLlm, from: number): Map<string, { at: number; wrote: number }> {
  const asked = new Map<string, { at: number; wrote: number }>();
  for (const r of fake.requests.slice(from)) {
    if (r.provider !== 'openai') continue;
    const keys = [...JSON.stringify(r.body).matchAll(/Question ([\w-]+): how/g)];
    const key = keys[keys.length - 1]?.[1];
    const wrote = r.wrote[FIRST_SENTENCE_TOKENS - 1];
    if (key && wrote !== undefined) asked.set(key, { at: r.at, wrote });
  }
  return asked;
}

interface Offering {
  queues: Queues;
  fake: FakeLlm;
  channels: string[];
  /** Per channel, when its replies' first sentences were ready (filled by watchFirstSentences). */
  ready: Map<string, Ready[]>;
  redis: Redis;
}

/**
 * Questions at `rate`/s for `seconds`, round-robin over the channels. Each one's overhead: its
 * first sentence ready (the next one on its channel) − when it was sent − the model's own time to
 * that sentence; split into chat → the model asked (ingest, reply policy, reply job, memory) and
 * the first sentence written → ready in playout (moderation, tts, audio).
 */
async function offerQuestions(o: Offering, rate: number, seconds: number, run: string) {
  for (const r of o.ready.values()) r.length = 0;
  const from = o.fake.requests.length;
  const sent = new Map<string, { key: string; at: number }[]>(o.channels.map((c) => [c, []]));
  const total = rate * seconds;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const channel = o.channels[i % o.channels.length]!;
    const q = question(`${run}-${i}`, channel);
    sent.get(channel)!.push({ key: `${run}-${i}`, at: q.acceptedAt });
    o.queues.enqueue('chat', q).catch((err: Error) => log(`enqueue failed: ${err.message}`));
  }
  const answered = () => [...o.ready.values()].reduce((n, r) => n + r.length, 0);
  const deadline = Date.now() + 10_000;
  while (answered() < total && Date.now() < deadline) await sleep(50);
  const asked = askedAt(o.fake, from);
  // A channel's k-th first sentence answers the k-th of its questions the model was asked (one skipped never is).
  const answeredRows = o.channels.flatMap((c) => {
    const answeredHere = sent.get(c)!.flatMap((q) => (asked.has(q.key) ? [{ ...q, asked: asked.get(q.key)! }] : []));
    return o.ready.get(c)!.flatMap((r, k) => {
      const q = answeredHere[k];
      return q ? [{ channel: c, key: q.key, sentAt: q.at, askedAt: q.asked.at, wroteAt: q.asked.wrote, utteranceId: r.utteranceId, readyAt: r.at }] : [];
    });
  });
  const rows = answeredRows.map((q) => ({ model: q.wroteAt - q.askedAt, overhead: q.readyAt - q.sentAt - (q.wroteAt - q.askedAt), toModel: q.askedAt - q.sentAt, afterModel: q.readyAt - q.wroteAt }));
  const stages = await stageTimes(o.redis, o.queues, start - 1000, answeredRows);
  const counts = await o.queues.queue('reply').getJobCounts('waiting', 'prioritized');
  return {
    offeredPerSec: rate, seconds, sent: total, replied: answered(),
    overheadMs: spread(rows.map((r) => r.overhead)),
    modelFirstSentenceMs: spread(rows.map((r) => r.model)),
    chatToModelAskedMs: spread(rows.map((r) => r.toModel)),
    firstSentenceToReadyMs: spread(rows.map((r) => r.afterModel)),
    replyJobsWaiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    stagesMs: Object.fromEntries([...STAGES, REPLY_HELD].map((s) => [s, spread(stages[s]!.filter((x) => !Number.isNaN(x)))])),
  };
}

/** Overhead at 5 replies/s, then rising rates until one reply worker no longer keeps up. */
async function readyFigures(b: ReplicaBench, fake: FakeLlm, configPath: string) {
  await b.flush();
  const env = { IDOLCAST_CONFIG: configPath };
  for (const args of [['ingest'], ['worker', 'reply'], ['worker', 'tts'], ['worker', 'audio']]) b.spawn(args, env);
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  const channels = Array.from({ length: CHANNELS }, (_, i) => `c${i}`);
  const watch = await watchFirstSentences(redis, b.prefix, channels);
  try {
    for (let i = 0; i < 200 && (await redis.zcard(keyspace(b.prefix).fleet)) < 4; i++) await sleep(50);
    const o: Offering = { queues, fake, channels, ready: watch.ready, redis };
    await offerQuestions(o, 5, 2, 'warm');
    log(`ai: overhead at 5 replies/s for ${FIVE_SECONDS} s`);
    const atFive = await offerQuestions(o, 5, FIVE_SECONDS, 'five');
    log(`ai: overhead p50 ${atFive.overheadMs.p50} p99 ${atFive.overheadMs.p99} ms; per stage (p50 / p99 / max ms):`);
    for (const [stage, v] of Object.entries(atFive.stagesMs)) log(`  ${stage.padEnd(42)} ${String(v.p50).padStart(7)} ${String(v.p99).padStart(7)} ${String(v.max).padStart(7)}`);
    const steps = [];
    let sustained = 0;
    for (const rate of RATES) {
      const step = await offerQuestions(o, rate, STEP_SECONDS, `r${rate}`);
      const keptUp = step.replied === step.sent && step.overheadMs.p99 < 1000 && step.replyJobsWaiting === 0;
      steps.push({ ...step, keptUp });
      log('ai step', rate, keptUp, step.replied, step.overheadMs.p50, step.overheadMs.p99);
      if (!keptUp) break;
      sustained = rate;
    }
    return { atFivePerSec: atFive, replyWorker: { maxSustainedRepliesPerSec: sustained, steps } };
  } finally {
    await watch.close();
    await queues.close();
    redis.disconnect();
    await b.stopChildren();
  }
}

/** Chat → the first AI sentence heard through nginx-rtmp, one question at a time. */
async function audibleFigures(b: ReplicaBench, extra: Record<string, unknown>, lines: number) {
  await b.flush();
  const stream = await startStream(b, { name: 'ai-rtmp', workers: [['ingest'], ['worker', 'reply'], ['worker', 'tts'], ['worker', 'audio']], extra });
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  try {
    const latencies = await audibleLatencies(stream.viewer, lines, async (i) => {
      const q = question(`rtmp-${i}`, 'main');
      await queues.enqueue('chat', q);
      return q.acceptedAt;
    }, { timeoutMs: 5000, settleMs: 6000 }); // the reply is about 4 s of speech
    return { lines, heard: latencies.length, chatToFirstAiSentenceAudibleMs: spread(latencies) };
  } finally {
    await queues.close();
    redis.disconnect();
    await stream.stop();
  }
}

/** The AI figures (see the file's comment); `lines`: questions asked one by one through nginx-rtmp. */
export async function aiFigures(b: ReplicaBench, lines = 15) {
  const fake = new FakeLlm();
  await fake.ready;
  fake.faults.openai = 'trickle';
  fake.trickleMs = PACE_MS;
  fake.reply.openai = REPLY;
  try {
    const base = YAML.parse(fs.readFileSync(b.configPath, 'utf8')) as Record<string, unknown>;
    const extra = aiConfig(fake.url, base);
    const channels = Object.fromEntries(Array.from({ length: CHANNELS }, (_, i) => [`c${i}`, { live: { dir: path.join(b.dir, 'live-ai') } }]));
    const configPath = path.join(b.dir, 'ai.yaml');
    fs.writeFileSync(configPath, YAML.stringify({ ...base, ...extra, channels, defaultChannel: 'c0' }));
    const ready = await readyFigures(b, fake, configPath);
    log('ai: chat → first AI sentence audible through nginx-rtmp');
    const audible = await audibleFigures(b, extra, lines);
    return {
      model: { paceMsPerToken: PACE_MS, firstSentenceMs: MODEL_FIRST_SENTENCE_MS, note: 'the loopback model writes a word token every paceMsPerToken (its first sentence firstSentenceMs after the request on paper); overheadMs = chat → first sentence ready in playout − the time the model actually took to write that sentence (modelFirstSentenceMs)' },
      safetyDelayMs: 0,
      ...ready,
      rtmp: audible,
      moderationRequests: fake.count('moderation'),
      targets: { overheadP50Ms: 40, overheadP99Ms: 100, atRepliesPerSec: 5 },
      pass: { overheadP50: ready.atFivePerSec.overheadMs.p50 <= 40, overheadP99: ready.atFivePerSec.overheadMs.p99 <= 100 },
    };
  } finally {
    await fake.close();
  }
}
