import { UnrecoverableError } from 'bullmq';
import type { LiveEvent } from '../queues/live-events';
import type { Payload } from '../queues/registry';
import { isAiLine } from '../queues/utterance.schema';
import type { CaptionFile } from '../src/broadcast/caption-file';
import type { HlsEncoder } from '../src/broadcast/hls-encoder';
import type { Leadership } from '../src/broadcast/leadership';
import { REPLY_GAP_POLL_MS, type ReplyOnAir } from '../src/ai/reply-air';
import { LineInterrupted, type OnAir } from '../src/broadcast/on-air';
import type { RealtimePump } from '../src/broadcast/realtime-pump';
import type { ProcessContext } from '../src/process';
import { dropReason } from '../src/speech-drops';
import type { SpeechStore } from '../src/speech-store';
import { sleep } from '../src/time';

/** How long the playout waits for a later part of a line before cutting the line short. */
const PART_WAIT_MS = 30_000;
/** How long the encoder takes to turn the pump's last samples into stream chunks for the pushers. */
const ENCODER_SLACK_MS = 60;

/** What the playout handler gets from the active broadcaster (src/broadcast/broadcaster.ts). */
export interface PlayoutDeps extends Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'metrics' | 'log'> {
  channel: string;
  speech: SpeechStore;
  pump: RealtimePump;
  encoder: HlsEncoder;
  caption?: CaptionFile;
  lead: Leadership;
  /** The line on air, shared with the operator's controls and the status. */
  onAir: OnAir;
  /** Rejects when the channel is taken by another broadcaster: the line on air ends at once. */
  lostLock: Promise<never>;
  /** A live event for the page and the overlay; never fails (Redis refusing it is logged). */
  publish: (event: LiveEvent) => void;
  /** The job's attempts so far and allowed: an interrupted line on its last attempt is dropped. */
  job: { attemptsMade: number; attempts: number };
  /** The AI reply on air, whose next line other lines wait for (src/ai/reply-air.ts). */
  replies?: ReplyOnAir;
  /** Shows an expression on the avatar from `fromMs` (the encoder's clock); none without an avatar. */
  expression?: (name: string, fromMs: number) => void;
}

/** What the playout knows of the line it is airing, for an interruption to undo. */
interface AiringLine {
  started: boolean;
  startTimer?: NodeJS.Timeout;
}

const at = (wallMs: number, fn: () => void) => setTimeout(fn, Math.max(0, wallMs - Date.now()));

/**
 * Air one line of the channel's playout queue (run by the active broadcaster, one line at a time,
 * in priority order): its parts into the real-time pump, its on-air start and end published on
 * the live view's clock. A line is complete only once its audio has gone out with our lease
 * unbroken; otherwise it ends `interrupted` and goes back to the queue. While an AI reply on air
 * has more lines to come, any other line is answered `{ defer }` instead (the broadcaster puts it
 * back in the queue for that long; src/ai/reply-air.ts).
 */
export async function handle(u: Payload<'playout'>, deps: PlayoutDeps) {
  const { config, redis, keys, metrics, log } = deps;
  const dropped = await dropReason(u, redis, keys, config.degradation.shortTtlMs);
  if (dropped) {
    metrics.speechDropped.inc({ stage: 'playout', reason: dropped });
    await deps.speech.dropPlayout(u.utteranceId, u.parts);
    log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before air');
    return { dropped };
  }
  // A reply's next line is still to come: this line goes back for a moment (the broadcaster puts it back in the queue).
  if (await deps.replies?.holds(u)) {
    log.debug({ utteranceId: u.utteranceId }, 'line held back: an AI reply on air has more to come');
    return { defer: REPLY_GAP_POLL_MS };
  }
  const line: AiringLine = { started: false };
  try {
    const aired = await airLine(u, line, deps);
    deps.replies?.aired(u);
    return aired;
  } catch (err) {
    if (err instanceof LineInterrupted) interrupted(u, line, err, deps);
    throw err;
  }
}

/** Play every part of a line; it counts only if its audio went out with our lease unbroken. */
async function airLine(u: Payload<'playout'>, line: AiringLine, deps: PlayoutDeps) {
  const { metrics, log, encoder, lead, onAir, channel } = deps;
  const airs = <T>(p: Promise<T>): Promise<T> => Promise.race([p, deps.lostLock]);
  const since = Date.now();
  // On-air times on the live view's clock, so captions and latency figures match what viewers get.
  const offset = encoder.streamOffsetMs;
  const { startAt, endAt, played } = await playParts(u, line, deps, airs, offset);
  onAir.current = undefined;
  // The job completes once its audio has gone out to the pushers (a few ticks after the pump
  // handed its last sample to the encoder, well within the pump's lead, so lines stay back to
  // back), and only if our lease held throughout: a lapse means some of it was dropped.
  await airs(sleep(ENCODER_SLACK_MS));
  if (!lead.heldSince(since)) throw new LineInterrupted('our lease lapsed while it was on air (output dropped)');
  finish(u, startAt, endAt, endAt - offset, deps);
  await deps.speech.dropPlayout(u.utteranceId, u.parts);
  metrics.onAir.inc({ channel });
  // On the stream's clock, as the viewer hears it.
  if (startAt !== undefined) metrics.chatToOnAir.observe({ channel }, Math.max(0, startAt - u.acceptedAt) / 1000);
  log.info({ utteranceId: u.utteranceId, parts: u.parts, played, startAt, endAt, queuedMs: startAt! - u.acceptedAt }, 'on air');
  return { startAt, endAt };
}

/** The parts into the pump as they arrive; a skip stops after the part playing, a missing later part cuts the line short. */
async function playParts(u: Payload<'playout'>, line: AiringLine, deps: PlayoutDeps, airs: <T>(p: Promise<T>) => Promise<T>, offset: number) {
  const { log, pump, onAir } = deps;
  let startAt: number | undefined;
  let endAt = 0;
  let played = 0;
  const current = (onAir.current = { utteranceId: u.utteranceId, ai: isAiLine(u), skipped: false });
  for (let part = 0; part < u.parts; part++) {
    const pcm = await airs(deps.speech.waitForPlayout(u.utteranceId, part, part === 0 ? 0 : PART_WAIT_MS));
    if (!pcm) {
      if (part === 0) throw new UnrecoverableError('speech audio is gone (expired before air)');
      log.warn({ utteranceId: u.utteranceId, part, parts: u.parts }, 'a later part never came: line cut short');
      break;
    }
    const times = await airs(pump.play(pcm, part === 0 ? lineStarts(u, deps) : undefined));
    if (startAt === undefined) startAt = announce(u, line, times.startAt, offset, deps);
    endAt = times.endAt + offset;
    played++;
    if (current.skipped) break;
  }
  return { startAt, endAt, played };
}

/**
 * What goes on the picture when the line's first sample does (the encoder's clock): its caption,
 * and the expression of an AI line's emotion (neutral leaves the face as a moderator set it).
 */
function lineStarts(u: Payload<'playout'>, deps: PlayoutDeps): ((due: number) => void) | undefined {
  const { caption, onAir, expression } = deps;
  const emotion = u.emotion !== 'neutral' ? u.emotion : undefined;
  if (!caption && !(emotion && expression)) return undefined;
  return (due) => {
    if (emotion) expression?.(emotion, due);
    if (caption) at(due, () => ((onAir.captionFor = u.utteranceId), caption.set(u.text)));
  };
}

/**
 * Publish the line's on-air start as its first sample goes out (`outAt`, the playout's clock),
 * with `startAt` on the live view's clock (`offset` later: the HLS program date's frame). Each
 * player shows the caption when its own clock reaches `startAt`; the low-latency view plays well
 * under a second behind, so the event must reach it before then, not at `startAt`.
 */
function announce(u: Payload<'playout'>, line: AiringLine, outAt: number, offset: number, deps: PlayoutDeps): number {
  const startAt = outAt + offset;
  line.startTimer = at(outAt, () => {
    deps.onAir.utteranceId = u.utteranceId;
    line.started = true;
    deps.publish({ type: 'onair-start', utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt });
  });
  return startAt;
}

/**
 * Clear the caption when the line's last sample is on the picture, and publish its end then too
 * (`outEnd`, the playout's clock; `endAt` on the live view's clock, as for the start).
 */
function finish(u: Payload<'playout'>, startAt: number | undefined, endAt: number, outEnd: number, deps: PlayoutDeps): void {
  const { caption, onAir } = deps;
  at(outEnd, () => onAir.captionFor === u.utteranceId && (caption?.clear(), (onAir.captionFor = undefined)));
  at(outEnd, () => {
    if (onAir.utteranceId === u.utteranceId) onAir.utteranceId = null;
    deps.publish({ type: 'onair-end', utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt, endAt });
  });
}

/** A line that did not finish airing: its end says so, and it goes back to the queue (its audio kept) or, out of attempts, is dropped. */
function interrupted(u: Payload<'playout'>, line: AiringLine, err: LineInterrupted, deps: PlayoutDeps): void {
  const { metrics, log, onAir } = deps;
  onAir.current = undefined;
  clearTimeout(line.startTimer);
  if (onAir.captionFor === u.utteranceId) {
    deps.caption?.clear();
    onAir.captionFor = undefined;
  }
  if (onAir.utteranceId === u.utteranceId) onAir.utteranceId = null;
  if (line.started) deps.publish({ type: 'onair-end', utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, interrupted: true });
  const again = deps.job.attemptsMade + 1 < deps.job.attempts;
  if (!again) metrics.speechDropped.inc({ stage: 'playout', reason: 'interrupted' });
  log.warn({ utteranceId: u.utteranceId, reason: 'interrupted', why: err.message }, again ? 'line interrupted on air: to be aired again' : 'line dropped: interrupted on air, no attempts left');
}
