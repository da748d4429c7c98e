import { UnrecoverableError, type Job } from 'bullmq';
import type { Payload } from '../../queues/registry';
import type { ProcessContext } from '../process';
import { controlMessageSchema, parsePubSub } from '../pubsub';
import { startQueueWorker } from '../queue-worker';
import { dropReason } from '../speech-drops';
import type { CaptionFile } from './caption-file';
import type { HlsEncoder } from './hls-encoder';
import type { Leadership } from './leadership';
import type { RealtimePump } from './realtime-pump';
import { sleep } from '../time';

/** How long the playout waits for a later part of a line before cutting the line short. */
const PART_WAIT_MS = 30_000;
/** How long the encoder takes to turn the pump's last samples into stream chunks for the pushers. */
const ENCODER_SLACK_MS = 60;

/** A line that did not finish airing (the lease lapsed or the channel was taken): it is aired again, never counted as aired. */
class LineInterrupted extends Error {}

/** What the playout knows of the line on air, for an interruption to undo. */
interface AiringLine {
  started: boolean;
  startTimer?: NodeJS.Timeout;
}

/** A part of a line, as soon as the audio worker has it (bounded wait). */
async function waitForPart(redis: ProcessContext['redis'], key: string, waitMs: number): Promise<Buffer | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pcm = await redis.getBuffer(key);
    if (pcm || Date.now() >= deadline) return pcm;
    await sleep(15);
  }
}

const at = (wallMs: number, fn: () => void) => setTimeout(fn, Math.max(0, wallMs - Date.now()));

interface PlayoutParts {
  pump: RealtimePump;
  encoder: HlsEncoder;
  caption?: CaptionFile;
  lead: Leadership;
}

/**
 * The active broadcaster's playout: lines from the channel's playout queue in priority order
 * into the real-time pump, their on-air start and end published on the live view's clock, and
 * the operator's controls over pub/sub. A line is complete only once its audio has gone out with
 * our lease unbroken; otherwise it ends `interrupted` and goes back to the queue.
 */
export class Playout {
  /** The utterance on air now, if any. */
  onAir: string | null = null;
  private captionFor?: string;
  private current?: { utteranceId: string; skipped: boolean };
  private readonly controls: ProcessContext['redis'];
  /** Rejects when the channel is taken by another broadcaster: the line on air ends at once (the audio stops with us). */
  private readonly lostLock: Promise<never>;
  private worker?: { stop: () => Promise<void> };

  constructor(
    private readonly ctx: ProcessContext,
    private readonly channel: string,
    private readonly parts: PlayoutParts,
  ) {
    const taken = (by: string) => new LineInterrupted(`the channel was taken by ${by}`);
    const { lead } = parts;
    this.lostLock = lead.lostTo ? Promise.reject(taken(lead.lostTo)) : new Promise<never>((_, reject) => lead.once('lost', ({ by }) => reject(taken(by))));
    this.lostLock.catch(() => {});
    // Operator controls (!skip, !clear) reach the broadcaster over pub/sub; anything else there is ignored.
    this.controls = ctx.redis.duplicate();
    this.controls.on('message', (c: string, raw: string) => this.control(c, raw));
  }

  /** Listen for the operator's controls, then take lines (so a skip is never missed). */
  async start(): Promise<void> {
    await this.controls.subscribe(this.ctx.keys.control(this.channel));
    this.worker = startQueueWorker(this.ctx, 'playout', { concurrency: 1, channel: this.channel }, (u, job) => this.process(u, job));
  }

  private control(redisChannel: string, raw: string): void {
    const { log } = this.ctx;
    const message = parsePubSub(controlMessageSchema, raw, log, redisChannel);
    if (message?.action === 'inject' && process.env.IDOLCAST_FAULT_INJECTION === '1') {
      // Chaos runs and tests break things on purpose; never honoured unless the process was started for it.
      log.warn({ fault: message.fault }, 'fault injected: background bed off');
      this.parts.pump.setBed(undefined);
    } else if (message?.action === 'skip') {
      log.info({ by: message.by, utteranceId: this.onAir }, 'line skipped');
      if (this.current) this.current.skipped = true;
      this.parts.pump.skip();
    }
  }

  private airs<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.lostLock]);
  }

  private async process(u: Payload<'playout'>, job: Job) {
    const { config, redis, keys, metrics, log } = this.ctx;
    const dropped = await dropReason(u, redis, keys, config.degradation.shortTtlMs);
    if (dropped) {
      metrics.speechDropped.inc({ stage: 'playout', reason: dropped });
      await redis.del(...Array.from({ length: u.parts }, (_, i) => keys.speechPcm(u.utteranceId, i)));
      log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before air');
      return { dropped };
    }
    const line: AiringLine = { started: false };
    try {
      return await this.airLine(u, line);
    } catch (err) {
      if (err instanceof LineInterrupted) this.interrupted(u, line, job, err);
      throw err;
    }
  }

  /** Play every part of a line; it counts only if its audio went out with our lease unbroken. */
  private async airLine(u: Payload<'playout'>, line: AiringLine) {
    const { redis, keys, metrics, log } = this.ctx;
    const { pump, encoder, caption, lead } = this.parts;
    const since = Date.now();
    const partKeys = Array.from({ length: u.parts }, (_, i) => keys.speechPcm(u.utteranceId, i));
    // On-air times on the live view's clock, so captions and latency figures match what viewers get.
    const offset = encoder.streamOffsetMs;
    let startAt: number | undefined;
    let endAt = 0;
    let played = 0;
    const current = (this.current = { utteranceId: u.utteranceId, skipped: false });
    for (const [part, key] of partKeys.entries()) {
      const pcm = await this.airs(waitForPart(redis, key, part === 0 ? 0 : PART_WAIT_MS));
      if (!pcm) {
        if (part === 0) throw new UnrecoverableError('speech audio is gone (expired before air)');
        log.warn({ utteranceId: u.utteranceId, part, parts: u.parts }, 'a later part never came: line cut short');
        break;
      }
      // The caption goes on the picture when the line's first sample does (the encoder's clock).
      const times = await this.airs(pump.play(pcm, part === 0 && caption ? (due) => at(due, () => ((this.captionFor = u.utteranceId), caption.set(u.text))) : undefined));
      if (startAt === undefined) startAt = this.announce(u, line, times.startAt + offset);
      endAt = times.endAt + offset;
      played++;
      if (current.skipped) break;
    }
    this.current = undefined;
    // The job completes once its audio has gone out to the pushers (a few ticks after the pump
    // handed its last sample to the encoder, well within the pump's lead, so lines stay back to
    // back), and only if our lease held throughout: a lapse means some of it was dropped.
    await this.airs(sleep(ENCODER_SLACK_MS));
    if (!lead.heldSince(since)) throw new LineInterrupted('our lease lapsed while it was on air (output dropped)');
    this.finish(u, startAt, endAt, endAt - offset);
    await redis.del(...partKeys);
    metrics.onAir.inc({ channel: this.channel });
    // On the stream's clock, as the viewer hears it.
    if (startAt !== undefined) metrics.chatToOnAir.observe({ channel: this.channel }, Math.max(0, startAt - u.acceptedAt) / 1000);
    log.info({ utteranceId: u.utteranceId, parts: u.parts, played, startAt, endAt, queuedMs: startAt! - u.acceptedAt }, 'on air');
    return { startAt, endAt };
  }

  /** Publish the line's on-air start when viewers hear it. */
  /** A live event for the page and the overlay; Redis refusing it is logged, never fatal to the playout. */
  private publishEvent(event: Record<string, unknown>): void {
    this.ctx.publish(this.channel, event).catch((err: Error) => this.ctx.log.warn({ err: err.message, type: event.type }, 'live event not published'));
  }

  private announce(u: Payload<'playout'>, line: AiringLine, startAt: number): number {
    const base = { utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt };
    line.startTimer = at(startAt, () => {
      this.onAir = u.utteranceId;
      line.started = true;
      this.publishEvent({ type: 'onair-start', ...base });
    });
    return startAt;
  }

  /** Clear the caption when the line's last sample is on the picture, and publish its end when viewers hear it. */
  private finish(u: Payload<'playout'>, startAt: number | undefined, endAt: number, captionEnd: number): void {
    const { caption } = this.parts;
    at(captionEnd, () => this.captionFor === u.utteranceId && (caption?.clear(), (this.captionFor = undefined)));
    const end = { utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt, endAt };
    at(endAt, () => {
      if (this.onAir === u.utteranceId) this.onAir = null;
      this.publishEvent({ type: 'onair-end', ...end });
    });
  }

  /** A line that did not finish airing: its end says so, and it goes back to the queue (its audio kept) or, out of attempts, is dropped. */
  private interrupted(u: Payload<'playout'>, line: AiringLine, job: Job, err: LineInterrupted): void {
    const { metrics, log } = this.ctx;
    this.current = undefined;
    clearTimeout(line.startTimer);
    if (this.captionFor === u.utteranceId) {
      this.parts.caption?.clear();
      this.captionFor = undefined;
    }
    if (this.onAir === u.utteranceId) this.onAir = null;
    if (line.started) this.publishEvent({ type: 'onair-end', utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, interrupted: true });
    const again = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    if (!again) metrics.speechDropped.inc({ stage: 'playout', reason: 'interrupted' });
    log.warn({ utteranceId: u.utteranceId, reason: 'interrupted', why: err.message }, again ? 'line interrupted on air: to be aired again' : 'line dropped: interrupted on air, no attempts left');
  }

  /** Stop taking lines (the one on air is played out, or ends at once if the channel was taken). */
  async stop(): Promise<void> {
    await this.worker?.stop();
    await this.controls.quit().catch(() => this.controls.disconnect());
  }
}
