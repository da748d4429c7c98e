import type { Payload } from '../queues/registry';
import { AI_PLATFORM } from '../queues/utterance.schema';
import { dumpedAt } from '../src/channel-state';
import { aiMetrics } from '../src/ai/ai-metrics';
import { aiKeys } from '../src/ai/keys';
import type { AiParts } from '../src/ai/reply-parts';
import { replyLineId, replyNote } from '../src/ai/reply-air';
import { replyJob } from '../src/chat/ai-chat';
import { generateReply, type ApprovedSentence } from '../src/ai/reply';
import { updateSummary } from '../src/ai/memory-summary';
import type { PromptInput } from '../src/ai/prompt';
import type { VoicedWait } from '../src/ai/voiced-watch';
import { isConfigured } from '../src/config/names';
import { sharedLevel } from '../src/degradation';
import type { Deps } from '../src/deps';

/** Sentences one reply may air: its accept order numbers are reserved as one block of this size. */
export const MAX_REPLY_SENTENCES = 32;

/** Which engine answered last is shown for a week (a channel is a config name: one key each). */
const LAST_ENGINE_TTL_MS = 7 * 24 * 3600_000;

/** A reply spoken: its sentences queued for speech, and whether a dump stopped it (then nothing of it airs). */
interface Spoken {
  said: ApprovedSentence[];
  dumped: boolean;
}

/** What the idol is to say: the prompt's situation, message and topic, the viewer it answers (for their summary), and whether it was paid. */
export interface SpeakWhat extends Pick<PromptInput, 'situation' | 'message' | 'topic'> {
  viewer?: string;
}

/**
 * Speak one reply: each approved sentence becomes a tts line as soon as the safety gate passes
 * it, so the first is voiced while the model still writes. The reply's lines take consecutive
 * accept-order numbers from a block reserved up front, and one priority, so the playout airs them
 * in order; a note in Redis tells the playout while more are to come, so no other line slips
 * between them (src/ai/reply-air.ts). They all carry the reply's start as their accept time: a
 * dump after it drops every one of them at every stage, and stops the reply here before its next
 * sentence (the model is no longer read).
 */
async function speak(what: SpeakWhat, channel: string, slot: string, ai: AiParts, deps: Deps, watching: Promise<unknown>): Promise<Spoken> {
  const { config, redis, keys, queues } = deps;
  const persona = config.ai.personas[config.ai.defaultPersona]!;
  // Together, not one round trip after another: they all come before the model is asked, and the
  // watch on the channel's voiced lines must be up before the first line is queued.
  const [history, viewerSummary, reserved] = await Promise.all([
    ai.memory.history(channel),
    what.viewer ? ai.memory.summary(channel, what.viewer) : undefined,
    redis.incrby(keys.speechOrder, MAX_REPLY_SENTENCES),
    watching,
  ]);
  const first = reserved - MAX_REPLY_SENTENCES + 1;
  const acceptedAt = Date.now();
  const voice = persona.voice && isConfigured(config.voices, persona.voice) ? persona.voice : config.defaultVoice;
  const said: ApprovedSentence[] = [];
  const paid = Boolean(what.message?.paid);
  // A paid message's reply airs with its thank-you, ahead of a backlog of plain chat.
  const priority = paid ? (config.chat.reactions.paid?.priority ?? config.chat.plainPriority) : config.chat.plainPriority;
  const input: PromptInput = { situation: what.situation, message: what.message, topic: what.topic, history, viewerSummary };
  const m = aiMetrics(deps.metrics);
  const started = performance.now();
  // The playout holds other lines while this reply's next line is still to come (src/ai/reply-air.ts).
  const note = replyNote(redis, config.redis.prefix, channel, slot, config.ai.reply.slotTtlMs);
  await note.open();
  try {
    for await (const s of generateReply({ ...ai.reply, log: deps.log }, persona, input)) {
      if (said.length >= MAX_REPLY_SENTENCES) break;
      if ((await dumpedAt(deps, channel, Date.now(), 0)) >= acceptedAt) {
        deps.log.warn({ channel, sentences: said.length }, 'AI reply dumped while being written: stopped');
        return { said, dumped: true };
      }
      if (!said.length) m.firstSentence.observe({ engine: s.engine }, (performance.now() - started) / 1000);
      await queues.enqueue('tts', {
        utteranceId: replyLineId(slot, said.length), channel, text: s.text, voice, priority, acceptedAt,
        order: first + said.length, emotion: s.emotion, origin: { platform: AI_PLATFORM, user: persona.name.slice(0, 64) }, ...(!paid && { degradable: true }),
      });
      await note.lineQueued();
      said.push(s);
    }
  } finally {
    await note.done();
  }
  if (said.length) await noteReply(channel, what.situation, said[0]!.engine, deps);
  return { said, dumped: false };
}

/** Count a reply, and keep which engine wrote the channel's last one (for `idolcast status`). */
async function noteReply(channel: string, situation: string, engine: string, deps: Deps): Promise<void> {
  aiMetrics(deps.metrics).replies.inc({ channel, situation, engine });
  const key = aiKeys(deps.config.redis.prefix).lastEngine(channel);
  await deps.redis.multi().hset(key, 'engine', engine, 'at', Date.now()).pexpire(key, LAST_ENGINE_TTL_MS).exec();
}

/**
 * Speak in a slot already held, remember what was said, and give the slot back once its lines
 * are voiced (so a reply started later cannot air between them; bounded by a third of the
 * slot's lifetime). Used by replies to chat and by idle talk alike.
 */
export async function speakInSlot(what: SpeakWhat, channel: string, slot: string, ai: AiParts, deps: Deps): Promise<ApprovedSentence[]> {
  // Subscribed while the reply's history is read (speak waits for both before its first line).
  const watching = ai.voiced?.watch(channel);
  let voiced: VoicedWait | undefined;
  try {
    const { said, dumped } = await speak(what, channel, slot, ai, deps, watching ?? Promise.resolve());
    voiced = await watching;
    // A dumped reply never aired: it is not remembered as said, and there are no lines to wait for.
    if (dumped) return [];
    if (said.length) await ai.memory.recordReply(channel, said.map((s) => s.text).join(' '));
    const ids = said.map((_s, n) => replyLineId(slot, n));
    if (voiced && (await voiced.until(ids, deps.config.ai.reply.slotTtlMs / 3)) === 'late') deps.log.warn({ channel, lines: ids.length }, 'AI reply not all voiced in time: slot given back');
    return said;
  } finally {
    await (voiced ?? (await watching?.catch(() => undefined)))?.stop();
    await ai.policy.release(channel, slot);
  }
}

/** The reply worker's jobs: a channel's reply candidates, a tick of idle talk, or a viewer's summary. */
export async function handle(p: Payload<'reply'>, deps: Deps) {
  const ai = deps.ai;
  if (!ai) throw new Error('the reply worker runs without its AI parts');
  if (!('window' in p)) return p.task === 'idle' ? idleTick(ai, deps) : summarise(p.channel, p.viewer, ai, deps);
  return answer(p.channel, ai, deps);
}

/**
 * A channel has reply candidates: unless the kill switch is off, take the best one (the policy
 * skips the rest and holds a slot) and speak the reply. Candidates still waiting (a busy slot, a
 * cooldown, paid ones behind) get a job in the next window.
 */
async function answer(channel: string, ai: AiParts, deps: Deps) {
  const { config, log } = deps;
  if (!isConfigured(config.channels, channel)) return { skipped: 'unknown channel' };
  if (!(await ai.switch.isOn())) return { skipped: 'ai off' };
  const took = await ai.policy.take(channel);
  if (!took.candidate) {
    if (took.why !== 'empty') await later(channel, deps);
    return { skipped: took.why };
  }
  const c = took.candidate;
  try {
    const said = await speakInSlot({ situation: c.situation, message: { user: c.name, text: c.text, paid: !!c.paid }, viewer: c.viewer }, channel, took.slot, ai, deps);
    log.info({ channel, reason: c.reason, messageId: c.id, slot: took.slot, sentences: said.length, skipped: took.skipped }, 'AI reply queued for speech');
    return { sentences: said.length };
  } finally {
    if ((await ai.policy.depth(channel)).waiting > 0) await later(channel, deps);
  }
}

/** A job for the next window, for candidates that could not be taken now. */
async function later(channel: string, deps: Deps): Promise<void> {
  const windowMs = deps.config.ai.reply.pickWindowMs;
  const next = replyJob(channel, windowMs, Date.now() + windowMs);
  await deps.queues.enqueue('reply', next, { delay: Math.max(0, next.window - Date.now()) });
}

/**
 * One tick of idle talk (a job scheduler's firing: one per tick for the whole fleet, and
 * IdleTalk's compare-and-set keeps a retried or doubled tick from starting two lines). Nothing
 * while the kill switch is off or the fleet is degraded (AI words are shed first); else each
 * channel whose chat has been quiet long enough starts a topic.
 */
export async function idleTick(ai: AiParts, deps: Deps) {
  if (!deps.config.ai.idle.enabled) return { skipped: 'disabled' };
  if (!(await ai.switch.isOn())) return { skipped: 'ai off' };
  if ((await sharedLevel(deps.redis, deps.keys)) >= 1) return { skipped: 'degraded' };
  const channels = Object.keys(deps.config.channels);
  const started = await Promise.all(channels.map((channel) => idleChannel(channel, ai, deps)));
  return { started: channels.filter((_c, i) => started[i]) };
}

/**
 * A channel's idle line, if it is time (IdleTalk decides: quiet for `afterMs`, outside quiet
 * hours, under the hourly cap) and no reply is waiting or in flight: the line is spoken in a
 * reply slot like any reply, so it never interleaves with one.
 */
async function idleChannel(channel: string, ai: AiParts, deps: Deps): Promise<boolean> {
  await ai.idle.beginQuiet(channel);
  const depth = await ai.policy.depth(channel);
  if (depth.inFlight > 0 || depth.waiting > 0) return false;
  const topic = await ai.idle.tryStart(channel, () => ai.memory.randomSummary(channel));
  if (!topic) return false;
  const slot = await ai.policy.claimSlot(channel);
  if (!slot) {
    deps.log.info({ channel }, 'idle line given up: chat took the reply slot first');
    return false;
  }
  const said = await speakInSlot({ situation: 'idle', ...(topic.topic && { topic: topic.topic }) }, channel, slot, ai, deps);
  deps.log.info({ channel, source: topic.source, slot, sentences: said.length }, 'idle talk queued for speech');
  return said.length > 0;
}

/**
 * A viewer's memory summary, updated through the model chain from their waiting lines (see
 * updateSummary). Not while the kill switch is off: the lines keep waiting, bounded.
 */
export async function summarise(channel: string, viewer: string, ai: AiParts, deps: Deps) {
  if (!isConfigured(deps.config.channels, channel)) return { skipped: 'unknown channel' };
  if (!(await ai.switch.isOn())) return { skipped: 'ai off' };
  const { chain, gate } = ai.reply;
  const out = await updateSummary({ ai: deps.config.ai, memory: ai.memory, chain, gate, log: deps.log }, channel, viewer);
  deps.log.info({ channel, outcome: out.outcome }, 'viewer summary job done');
  return { outcome: out.outcome };
}
