import type { LiveEvent } from '../../queues/live-events';
import { handlers } from '../../workers';
import { OverlayTrack } from '../avatar/overlay-track';
import { VtubeStudioDriver } from '../avatar/vtube-studio';
import { DelayedError } from 'bullmq';
import { aiMetrics } from '../ai/ai-metrics';
import { ReplyOnAir } from '../ai/reply-air';
import { currentEmote, noteDumped, rememberEmote } from '../channel-state';
import { forgetStreamKeys } from '../config/load';
import { onShutdown } from '../lifecycle';
import { bootProcess, type ProcessContext } from '../process';
import { startQueueWorker } from '../queue-worker';
import { SpeechStore } from '../speech-store';
import { listenToControls } from './controls';
import { ChannelLock } from './handover';
import { startMonitors } from './monitors';
import { OnAir } from './on-air';
import { openOutput, type Output } from './output';

/**
 * The broadcaster process of one channel, put together from its parts: the output
 * (src/broadcast/output.ts: encoder, pushers, live view), taking over and handing over the channel
 * (handover.ts), and, once active, the playout (the `playout` queue's handler,
 * workers/playout.worker.ts), the operator's controls (controls.ts) and the watchdog and counters
 * (monitors.ts). A standby is warm: it already encodes (into its own directory, published
 * nowhere), so taking over costs only the switch — pushers start from the cached keyframe and the
 * live view is repointed.
 */
export async function runBroadcast(channel: string): Promise<void> {
  const state: { role: 'standby' | 'active'; token?: number; detail?: () => Record<string, unknown> } = { role: 'standby' };
  const ctx = bootProcess('broadcast', { blocking: true, detail: () => ({ channel, role: state.role, fence: state.token, ...state.detail?.() }) });
  const { config, log } = ctx;
  if (!config.channels[channel]) throw new Error(`no channel "${channel}" in the config (channels: ${Object.keys(config.channels).join(', ')})`);
  // The config holds the stream keys now: the ffmpeg children need not inherit them.
  forgetStreamKeys(config);
  const lock = new ChannelLock(ctx, channel);

  let stopping = false;
  /** Set when the channel was taken by another broadcaster: nothing more may go out, not even a line's end. */
  let aborting = false;
  log.info({ channel }, 'broadcaster standby: waiting for the channel lock');
  // Warming up and waiting for the lock run side by side; the lock is renewed from the moment it
  // is held, since warming up (starting ffmpeg, the first segment) takes longer than the lease.
  const warming = warmUp(ctx, channel, lock);
  const shutdown = onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    stopping = true;
    await warming.then((s) => (aborting ? s.abort() : s.stop())).catch(() => {});
    await lock.handOver();
    await ctx.close();
  });
  warming.then(
    (s) => (state.detail = s.detail),
    (err: Error) => {
      // Without an encoder there is nothing to broadcast: leave, the supervisor restarts us.
      log.error({ channel, err: err.message }, 'broadcaster could not start its encoder');
      shutdown('no encoder', 1);
    },
  );
  ctx.heartbeat.start();
  const token = await lock.takeOver(() => stopping, {
    lost: () => {
      aborting = true;
      shutdown('lost the broadcast lock', 1);
    },
    fence: (fence) => (state.token = fence),
  });
  if (token === undefined) return;
  state.role = 'active';
  state.token = token;
  log.info({ channel, fence: token }, 'broadcaster active');
  const station = await warming;
  if (!stopping) await station.goLive();
}

/** The output, warm; `goLive` adds what only the active broadcaster runs. */
async function warmUp(ctx: ProcessContext, channel: string, lock: ChannelLock) {
  const output = await openOutput(ctx, channel, lock.lead);
  const onAir = new OnAir();
  let active: Awaited<ReturnType<typeof startActive>> | undefined;
  // Standby or active, the picture follows a reloaded pack: a standby taking over shows the new one.
  const avatar = output.picture?.avatar;
  // Quiet about messages it ignores: the active broadcaster's own listener logs a malformed one, once.
  const reloads = avatar && (await listenToControls(ctx, channel, { avatarReload: (by) => void avatar.reload(by) }, { logIgnored: false }));
  return {
    goLive: async () => {
      output.goOnAir();
      active = await startActive(ctx, channel, output, lock, onAir);
      ctx.log.info({ channel, playlist: output.encoder.playlist }, 'broadcaster ready');
    },
    detail: () => ({ ...output.detail(), onAir: onAir.utteranceId, vtubeStudio: active?.vts?.connected, overlayAvatarUpdates: active?.overlay?.sent }),
    /** Graceful: the line on air is played to its end, then everything closes. */
    stop: async () => {
      await active?.stop();
      await reloads?.stop();
      await output.stop();
    },
    /** At once: nothing more goes out; then the line on air goes back to the queue and the worker closes. */
    abort: async () => {
      output.kill();
      await active?.stop();
      await reloads?.stop();
    },
  };
}

/** Avatars other than the picture's: the model in VTube Studio, the overlay's. */
interface OtherFaces {
  vts?: VtubeStudioDriver;
  overlay?: OverlayTrack;
}

/**
 * The avatar shows `expression` if its pack offers it (a control is checked here too: the pack
 * may have been changed), and the model in VTube Studio and the overlay's avatar show it too;
 * from `fromMs` (the encoder's clock) when given, else at once. Whether any face shows it.
 */
function showEmote(ctx: ProcessContext, output: Output, expression: string, holdMs: number, faces: OtherFaces = {}, fromMs?: number): boolean {
  const { vts, overlay } = faces;
  // The model in VTube Studio changes when the line is heard, as the picture does.
  const wait = fromMs === undefined ? 0 : Math.max(0, fromMs - Date.now());
  if (vts && wait) setTimeout(() => void vts.setExpression(expression, holdMs), wait).unref();
  else void vts?.setExpression(expression, holdMs);
  const shown = output.picture?.avatar?.setExpression(expression, holdMs, fromMs);
  // The ingest checked the name against the channel's pack; an unknown one shows neutral on the overlay.
  overlay?.setExpression(expression, holdMs, fromMs);
  const from = fromMs === undefined ? {} : { from: 'line on air' };
  if (shown || overlay) ctx.log.info({ expression, holdMs, ...from }, 'avatar expression');
  else if (!vts) ctx.log.warn({ expression, ...from }, 'avatar expression not shown: no avatar, or not in its pack');
  return Boolean(shown || overlay || vts);
}

/**
 * The overlay's avatar (overlay.avatar on): mouth and expression updates from the speech this
 * output airs, published as live events the overlay page follows.
 */
function startOverlayTrack(ctx: ProcessContext, channel: string, output: Output, publish: (event: LiveEvent) => void): OverlayTrack | undefined {
  const { overlay, playout, channels } = ctx.config;
  if (!overlay.avatar.enabled || !output.speech) return undefined;
  if (output.picture?.avatar) ctx.log.warn('the avatar is on the picture and on the overlay: an overlay laid over this picture shows her twice');
  const track = new OverlayTrack({
    speech: output.speech,
    sampleRate: playout.sampleRate,
    streamOffsetMs: () => output.encoder.streamOffsetMs,
    stepMs: Math.round(1000 / overlay.avatar.maxUpdatesPerSecond),
    lookAheadMs: Math.round(playout.leadMs / 2),
    neutralAfterMs: channels[channel]!.video.avatar.expressionResetMs,
    publish: (state) => publish({ type: 'avatar', ...state }),
  });
  track.start();
  return track;
}

/**
 * The channel's model in VTube Studio, when configured: driven only by the active broadcaster
 * (its mouth from the speech this output airs, its expression from Redis and the controls).
 */
function startVtubeStudio(ctx: ProcessContext, channel: string, output: Output): VtubeStudioDriver | undefined {
  const cfg = ctx.config.channels[channel]!.video.avatar.vtubeStudio;
  if (!cfg.enabled || !output.speech) return undefined;
  const vts = new VtubeStudioDriver({
    cfg,
    redis: ctx.redis,
    tokenKey: ctx.keys.vtsToken(channel),
    log: ctx.log.child({ vts: channel }),
    desired: () => currentEmote(ctx, channel),
    speech: output.speech,
    sampleRate: ctx.config.playout.sampleRate,
  });
  vts.start();
  return vts;
}

/**
 * An AI line's emotion, shown from the frame its first sample airs in (not when it was written:
 * a line dropped or cleared before air never shows it), and kept as the channel's expression so a
 * restart or a takeover shows it for the rest of its hold. A tagged "neutral" leaves the face as it is.
 */
function lineExpression(ctx: ProcessContext, channel: string, output: Output, expression: string, fromMs: number, faces: OtherFaces): void {
  const holdMs = ctx.config.channels[channel]!.video.avatar.expressionResetMs;
  if (!showEmote(ctx, output, expression, holdMs, faces, fromMs)) return;
  rememberEmote(ctx, channel, expression, holdMs + Math.max(0, fromMs - Date.now())).catch((err: Error) => ctx.log.warn({ err: err.message }, 'avatar expression not kept in Redis'));
}

/**
 * What only the active broadcaster runs: the operator's controls, then the playout (so a skip is
 * never missed) calling the `playout` queue's handler one line at a time, and the monitors.
 */
async function startActive(ctx: ProcessContext, channel: string, output: Output, lock: ChannelLock, onAir: OnAir) {
  const { log } = ctx;
  const { pump, encoder, caption } = output;
  const vts = startVtubeStudio(ctx, channel, output);
  const replies = new ReplyOnAir({ redis: ctx.redis, prefix: ctx.config.redis.prefix, channel });
  /** A live event for the page and the overlay; Redis refusing it is logged, never fatal to the playout. */
  const publish = (event: LiveEvent) => void ctx.publish(channel, event).catch((err: Error) => log.warn({ err: err.message, type: event.type }, 'live event not published'));
  const overlay = startOverlayTrack(ctx, channel, output, publish);
  const controls = await listenToControls(ctx, channel, {
    skip: (by) => {
      log.info({ by, utteranceId: onAir.utteranceId }, 'line skipped');
      onAir.skip();
      pump.skip();
      replies.forget();
    },
    inject: (fault) => {
      log.warn({ fault }, 'fault injected: background bed off');
      pump.setBed(undefined);
    },
    emote: (expression, holdMs) => showEmote(ctx, output, expression, holdMs, { vts, overlay }),
    dump: (by, at) => {
      // Known here at once, so an AI line due right after the dump is dropped, not aired from a stale read.
      noteDumped(ctx, channel, at);
      replies.forget();
      const cut = onAir.skipAi();
      if (cut) pump.skip();
      aiMetrics(ctx.metrics).dumped.inc({ channel });
      log.warn({ by, cut: cut ?? null }, cut ? 'AI lines dumped: the AI line on air cut' : 'AI lines dumped');
    },
  });
  // The expression set before this broadcaster took the channel (a restart, a takeover) is shown
  // again (VTube Studio re-applies it itself on connecting).
  const emote = (output.picture?.avatar || overlay) && (await currentEmote(ctx, channel).catch(() => undefined));
  if (emote) showEmote(ctx, output, emote.expression, emote.holdMs, { overlay });
  const expression = (output.picture?.avatar || vts || overlay) && ((name: string, fromMs: number) => lineExpression(ctx, channel, output, name, fromMs, { vts, overlay }));
  const deps = { ...ctx, channel, speech: new SpeechStore(ctx.redis, ctx.keys, ctx.config), pump, encoder, caption, lead: lock.lead, onAir, lostLock: lock.whenTaken(), publish, replies, expression };
  const playout = startQueueWorker(ctx, 'playout', { concurrency: 1, channel }, async (u, job, token) => {
    const out = await handlers.playout(u, { ...deps, job: { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 } });
    const defer = (out as { defer?: number }).defer;
    if (defer === undefined) return out;
    // Back to the queue (not an attempt): the reply's next line is taken first when it comes.
    await job.moveToDelayed(Date.now() + defer, token);
    throw new DelayedError();
  });
  const monitors = startMonitors(ctx, channel, { encoder, pump, picture: output.picture, hasBed: output.hasBed });
  return {
    vts,
    overlay,
    /** Stop taking lines (the one on air is played out, or ends at once if the channel was taken). */
    stop: async () => {
      monitors.stop();
      overlay?.stop();
      await playout.stop();
      await controls.stop();
      await vts?.stop();
    },
  };
}
