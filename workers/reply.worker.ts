import type { Payload } from '../queues/registry';
import { AI_PLATFORM } from '../queues/utterance.schema';
import { dumpedAt } from '../src/channel-state';
import type { AiParts } from '../src/ai/reply-parts';
import { replyJob } from '../src/chat/ai-chat';
import { generateReply, type ApprovedSentence } from '../src/ai/reply';
import { replyLineId, replyNote } from '../src/ai/reply-air';
import type { Candidate } from '../src/ai/reply-policy';
import type { VoicedWait } from '../src/ai/voiced-watch';
import { isConfigured } from '../src/config/names';
import type { Deps } from '../src/deps';

/** Sentences one reply may air: its accept order numbers are reserved as one block of this size. */
export const MAX_REPLY_SENTENCES = 32;


/** A reply spoken: its sentences queued for speech, and whether a dump stopped it (then nothing of it airs). */
interface Spoken {
  said: ApprovedSentence[];
  dumped: boolean;
}

/**
 * Speak one reply: each approved sentence becomes a tts line as soon as the safety gate passes
 * it, so the first is voiced while the model still writes. The reply's lines take consecutive
 * accept-order numbers from a block reserved up front, and one priority, so the playout airs them
 * in order; a note in Redis tells the playout while more are to come, so no other line slips
 * between them (src/ai/reply-air.ts). They all carry the
 * reply's start as their accept time: a dump after it drops every one of them at every stage,
 * and stops the reply here before its next sentence (the model is no longer read).
 */
async function speak(c: Candidate, channel: string, slot: string, ai: AiParts, deps: Deps): Promise<Spoken> {
  const { config, redis, keys, queues } = deps;
  const persona = config.ai.personas[config.ai.defaultPersona]!;
  const [history, viewerSummary] = await Promise.all([ai.memory.history(channel), ai.memory.summary(channel, c.viewer)]);
  const first = (await redis.incrby(keys.speechOrder, MAX_REPLY_SENTENCES)) - MAX_REPLY_SENTENCES + 1;
  const acceptedAt = Date.now();
  const voice = persona.voice && isConfigured(config.voices, persona.voice) ? persona.voice : config.defaultVoice;
  const said: ApprovedSentence[] = [];
  const input = { situation: c.situation, message: { user: c.name, text: c.text, paid: !!c.paid }, history, viewerSummary };
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
      await queues.enqueue('tts', {
        utteranceId: replyLineId(slot, said.length), channel, text: s.text, voice, priority: config.chat.plainPriority, acceptedAt,
        order: first + said.length, emotion: s.emotion, origin: { platform: AI_PLATFORM, user: persona.name.slice(0, 64) }, ...(!c.paid && { degradable: true }),
      });
      await note.lineQueued();
      said.push(s);
    }
  } finally {
    await note.done();
  }
  return { said, dumped: false };
}

/**
 * A channel has reply candidates: unless the kill switch is off, take the best one (the policy
 * skips the rest and holds a slot), speak the reply, remember it, and give the slot back once its
 * lines are voiced (so a reply started later cannot air between them; bounded by a third of the
 * slot's lifetime). Candidates still waiting (a busy slot, a cooldown, paid ones behind) get a job
 * in the next window.
 */
export async function handle(p: Payload<'reply'>, deps: Deps) {
  const { config, log } = deps;
  const ai = deps.ai;
  if (!ai) throw new Error('the reply worker runs without its AI parts');
  if (!isConfigured(config.channels, p.channel)) return { skipped: 'unknown channel' };
  if (!(await ai.switch.isOn())) return { skipped: 'ai off' };
  const took = await ai.policy.take(p.channel);
  if (!took.candidate) {
    if (took.why !== 'empty') await later(p.channel, deps);
    return { skipped: took.why };
  }
  let voiced: VoicedWait | undefined;
  try {
    voiced = await ai.voiced?.watch(p.channel);
    const { said, dumped } = await speak(took.candidate, p.channel, took.slot, ai, deps);
    // A dumped reply never aired: it is not remembered as said, and there are no lines to wait for.
    if (dumped) return { sentences: 0, dumped: true };
    if (said.length) await ai.memory.recordReply(p.channel, said.map((s) => s.text).join(' '));
    log.info({ channel: p.channel, reason: took.candidate.reason, sentences: said.length, skipped: took.skipped }, 'AI reply queued for speech');
    const ids = said.map((_s, n) => replyLineId(took.slot, n));
    if (voiced && (await voiced.until(ids, config.ai.reply.slotTtlMs / 3)) === 'late') log.warn({ channel: p.channel, lines: ids.length }, 'AI reply not all voiced in time: slot given back');
    return { sentences: said.length };
  } finally {
    await voiced?.stop();
    await ai.policy.release(p.channel, took.slot);
    if ((await ai.policy.depth(p.channel)).waiting > 0) await later(p.channel, deps);
  }
}

/** A job for the next window, for candidates that could not be taken now. */
async function later(channel: string, deps: Deps): Promise<void> {
  const windowMs = deps.config.ai.reply.pickWindowMs;
  const next = replyJob(channel, windowMs, Date.now() + windowMs);
  await deps.queues.enqueue('reply', next, { delay: Math.max(0, next.window - Date.now()) });
}
