/**
 * Where the AI bench's overhead goes: per question, the time of each step on its way from chat to
 * its reply's first sentence ready in playout, from BullMQ's event streams (each entry's id is the
 * Redis time it was written, in ms) of the chat, reply, tts and audio queues, the model's own
 * request log and the `speech-ready` event. Each stage is the gap from the previous step.
 */
import type { QueueKey, Queues } from '../queues/registry';
import type { Redis } from '../src/redis';

/** First time each job id had each event (`added`, `waiting`, `active`, `completed`, …), from `since` on. */
type JobEvents = Map<string, Map<string, number>>;

async function jobEvents(redis: Redis, queues: Queues, key: QueueKey, since: number): Promise<JobEvents> {
  const entries = await redis.xrange(queues.queue(key).keys.events!, `${since}-0`, '+');
  const out: JobEvents = new Map();
  for (const [id, fields] of entries) {
    const at = Number(id.split('-')[0]);
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    const job = f.get('jobId');
    const event = f.get('event');
    if (!job || !event) continue;
    const seen = out.get(job) ?? new Map<string, number>();
    if (!seen.has(event)) seen.set(event, at);
    out.set(job, seen);
  }
  return out;
}

/** One answered question: which channel, when it was sent and the model asked, and its first sentence's line id and ready time. */
export interface Answered {
  channel: string;
  key: string;
  sentAt: number;
  askedAt: number;
  /** When the model wrote the first sentence's last token. */
  wroteAt: number;
  utteranceId: string;
  readyAt: number;
}

/** The steps in order; each stage's figure is its time minus the previous step's. */
export const STAGES = [
  'chat job active', // sent → the ingest picked the chat job
  'reply job added', // the ingest decided the batch and offered it to the reply policy
  'reply job active', // the reply worker picked the channel's job
  'model asked', // history, summary, slot, note
  "(the model's own time to its first sentence: not overhead)",
  'first sentence approved (tts job added)', // split into a sentence, moderated, tts job added
  'tts job active',
  'first part voiced (audio job added)',
  'audio job active',
  'speech-ready', // the audio encoded and the line queued for playout
] as const;

/** Not a stage: how long the reply job held one of the reply worker's concurrency slots (the model's whole reply, then its lines voiced). */
export const REPLY_HELD = 'reply job held (active → completed)';

/** Per answered question, each stage's ms (NaN when a step was not seen), and REPLY_HELD. */
export async function stageTimes(redis: Redis, queues: Queues, since: number, rows: Answered[]): Promise<Record<string, number[]>> {
  const [chat, reply, tts, audio] = await Promise.all((['chat', 'reply', 'tts', 'audio'] as const).map((k) => jobEvents(redis, queues, k, since)));
  const replyIds = [...reply!.entries()];
  const out: Record<string, number[]> = Object.fromEntries([...STAGES, REPLY_HELD].map((s) => [s, []]));
  for (const r of rows) {
    const c = chat!.get(`local-${r.channel}-${r.key}`);
    // The channel's reply job that asked the model: the last one to start between the question and the request.
    const ran = (ev: Map<string, number>) => ev.get('active') ?? 0;
    const rj = replyIds.filter(([id, ev]) => id.startsWith(`reply-${r.channel}-`) && ran(ev) >= r.sentAt && ran(ev) <= r.askedAt).sort((a, b) => ran(b[1]) - ran(a[1]))[0]?.[1];
    const t = tts!.get(r.utteranceId);
    const a = audio!.get(`${r.utteranceId}-p0`);
    const at = [
      r.sentAt,
      c?.get('active'),
      rj?.get('added') ?? rj?.get('waiting'),
      rj?.get('active'),
      r.askedAt,
      r.wroteAt,
      t?.get('added') ?? t?.get('waiting') ?? t?.get('prioritized'),
      t?.get('active'),
      a?.get('added') ?? a?.get('waiting'),
      a?.get('active'),
      r.readyAt,
    ];
    STAGES.forEach((s, i) => {
      const gap = (at[i + 1] ?? NaN) - (at[i] ?? NaN);
      out[s]!.push(gap);
    });
    out[REPLY_HELD]!.push((rj?.get('completed') ?? NaN) - (rj?.get('active') ?? NaN));
  }
  return out;
}
