import path from 'node:path';
import { onShutdown } from '../lifecycle';
import { bootProcess, type ProcessContext } from '../process';
import type { ChannelConfig, Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { CaptionFile } from './caption-file';
import { DestinationRelay } from './destination-relay';
import { GopCache } from './gop-cache';
import { HlsEncoder } from './hls-encoder';
import { Leadership } from './leadership';
import { FeedAudio } from './feed-audio';
import { FramePacer, VideoFeed, renderSlate } from './video-feed';
import { Watchdog } from './watchdog';
import { Playout } from './playout';
import { MEMBERS_DIR, pointLiveView } from './live-view';
import { type Bed, GeneratedBed, LoopedBed, decodeBed } from './bed';
import { type BedMix, RealtimePump } from './realtime-pump';
import { sleep } from '../time';

/** A feed the watchdog found black or frozen is replaced by the slate this long, then tried again. */
const WATCHDOG_SLATE_MS = 30_000;
/** A background colour darker than this (0–255) is meant to look black. */
const BLACK_BACKGROUND_LUMA = 40;

/** Rec. 601 luma of a #rrggbb colour, 0–255. */
function luma(colour: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return 0.299 * r! + 0.587 * g! + 0.114 * b!;
}

/** One pusher per enabled destination; the stream key comes from the environment variable the config names. */
function destinationRelays(channel: string, config: ChannelConfig, log: Logger, metrics: Metrics, gop: GopCache): DestinationRelay[] {
  return Object.entries(config.destinations)
    .filter(([, d]) => d.enabled)
    .map(([name, d]) => {
      const key = d.keyEnv ? process.env[d.keyEnv] : undefined;
      if (d.keyEnv && !key) log.warn({ destination: name, keyEnv: d.keyEnv }, 'stream key variable is not set: pushing without a key');
      const labels = { channel, destination: name };
      return new DestinationRelay(name, d.url, key, log, {
        onAir: (on) => metrics.destinationOnAir.set(labels, on ? 1 : 0),
        reconnect: () => metrics.destinationReconnects.inc(labels),
        sent: (n) => metrics.destinationBytes.inc(labels, n),
        dropped: (n) => metrics.destinationDropped.inc(labels, n),
      }, () => gop.snapshot());
    });
}

/** The configured background bed; a file that cannot be used falls back to the generated one (and says why). */
async function loadBed(cfg: Config['playout']['bed'], rate: number, log: Logger): Promise<BedMix | undefined> {
  if (cfg.source === 'none') return undefined;
  let bed: Bed = new GeneratedBed(rate);
  if (cfg.source !== 'generated') {
    try {
      bed = new LoopedBed(await decodeBed(cfg.source, rate, log));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'background bed file unusable: using the generated bed');
    }
  }
  return { bed, level: cfg.level, duckLevel: cfg.duckLevel };
}

/** With an external feed configured: the feed reader, its slate and the pacer that hands the encoder frames. */
async function feedPicture(memberDir: string, cfg: ChannelConfig, log: Logger) {
  const feedCfg = cfg.video.feed;
  if (!feedCfg) return undefined;
  const format = { width: cfg.video.width, height: cfg.video.height, fps: cfg.video.fps };
  const slate = await renderSlate(format, cfg.video.background, feedCfg.slateText, path.join(memberDir, 'slate.txt'), log, feedCfg.slateImage);
  const feed = new VideoFeed(feedCfg.url, format, log);
  const pacer = new FramePacer(feed, slate, format, feedCfg.lossMs, feedCfg.frozenMs, log);
  feed.start();
  return {
    frames: { socketPath: pacer.socketPath, onStart: () => pacer.attach() },
    droppedFrames: () => pacer.droppedFrames,
    feedOnAir: () => pacer.feedOnAir,
    forceSlate: (ms: number) => pacer.forceSlate(ms),
    stop: () => (feed.stop(), pacer.stop()),
  };
}

/**
 * The external feed's sound in place of the bed, when the feed is configured with it; the bed
 * (scaled to keep its own level) plays whenever the feed has no sound.
 */
function feedSound(cfg: ChannelConfig, bed: BedMix | undefined, rate: number, log: Logger) {
  const feedCfg = cfg.video.feed;
  if (!feedCfg?.audio.enabled) return undefined;
  const { level, duckLevel } = feedCfg.audio;
  const scale = bed && level > 0 ? bed.level / level : 0;
  const fallback = bed
    ? (n: number) => {
        const samples = bed.bed.next(n);
        for (let i = 0; i < n; i++) samples[i]! *= scale;
        return samples;
      }
    : undefined;
  const sound = new FeedAudio(feedCfg.url, rate, fallback, log);
  sound.start();
  return { mix: { bed: sound, level, duckLevel } satisfies BedMix, stop: () => sound.stop() };
}

/**
 * Run the broadcaster of one channel: a continuous real-time playout (speech from the channel's
 * playout queue in priority order, the bed or silence between) into a long-running ffmpeg that
 * writes the local HLS live view, pushed on to every enabled destination. Each line's on-air
 * start and end are published. Replicas of one channel are hot standbys: one holds the channel's
 * lock and broadcasts, the others wait for the lock and take over when it lapses. A standby is
 * warm: it already encodes (into its own directory, published nowhere), so taking over costs
 * only the switch — pushers start from the cached keyframe and the live view is repointed.
 */
export async function runBroadcast(channel: string): Promise<void> {
  const state: { role: 'standby' | 'active'; token?: number; detail?: () => Record<string, unknown> } = { role: 'standby' };
  const ctx = bootProcess('broadcast', { blocking: true, detail: () => ({ channel, role: state.role, fence: state.token, ...state.detail?.() }) });
  const { config, log, redis, keys } = ctx;
  if (!config.channels[channel]) throw new Error(`no channel "${channel}" in the config (channels: ${Object.keys(config.channels).join(', ')})`);
  const lead = new Leadership(redis, { lock: keys.broadcastLeader(channel), fence: keys.broadcastFence(channel) }, ctx.id, config.playout.leaderLockMs, log);

  let stopping = false;
  /** Set when the channel was taken by another broadcaster: nothing more may go out, not even a line's end. */
  let aborting = false;
  log.info({ channel }, 'broadcaster standby: waiting for the channel lock');
  // Warming up and waiting for the lock run side by side; the lock is renewed from the moment it
  // is held, since warming up (starting ffmpeg, the first segment) takes longer than the lease.
  const warming = warmUp(ctx, channel, lead);
  const shutdown = onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    stopping = true;
    await warming.then((s) => (aborting ? s.abort() : s.stop())).catch(() => {});
    await lead.release(); // the standby takes over at once instead of waiting for the TTL
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
  const token = await lead.acquire(() => stopping);
  if (token === undefined) return;
  state.role = 'active';
  state.token = token;
  lead.on('lost', ({ by, token: fence }) => {
    // Someone else broadcasts now: stop pushing at once (no graceful drain); the line on air goes
    // back to the queue for the new holder, and we come back as a standby (exit 1: restarted).
    log.error({ channel, fence, why: `taken by ${by}` }, 'lost the broadcast lock: stopping');
    aborting = true;
    shutdown('lost the broadcast lock', 1);
  });
  lead.on('regained', ({ lateMs, expired, token: fence }) => {
    // Starved past the lease (output dropped meanwhile) with nobody else to take over: carry on.
    state.token = fence;
    log.warn({ channel, fence, lateMs, why: expired ? 'expired, nobody else held it: taken again' : 'renewal came late, still ours' }, 'broadcast lease lapsed: output dropped meanwhile');
  });
  lead.keep();
  log.info({ channel, fence: token }, 'broadcaster active');
  const station = await warming;
  if (!stopping) await station.goLive();
}

/**
 * What watches the active broadcaster's output: the watchdog (silence, a stalled encoder, a black
 * or frozen picture) and the hot loops' counters, published once a second.
 */
function startMonitors(
  ctx: ProcessContext,
  channel: string,
  { encoder, pump, picture, hasBed }: { encoder: HlsEncoder; pump: RealtimePump; picture: Awaited<ReturnType<typeof feedPicture>>; hasBed: boolean },
) {
  const { config, log, metrics } = ctx;
  const channelConfig = config.channels[channel]!;
  const rate = config.playout.sampleRate;
  const wd = config.playout.watchdog;
  const watchdog = new Watchdog(
    path.dirname(encoder.playlist),
    {
      expectSound: hasBed,
      silenceMs: wd.silenceMs,
      stallMs: wd.stallMs,
      stepMs: wd.stepMs,
      checkEveryMs: 500,
      picture: channelConfig.video.audioOnly
        ? undefined
        : {
            blackMs: wd.blackMs,
            frozenMs: wd.frozenMs,
            // A feed should show something and move; a generated picture is black only if its colour is dark
            // (an image or a looped video may be dark on purpose).
            expectPicture: () => picture?.feedOnAir() ?? (!channelConfig.video.image && !channelConfig.video.loop && luma(channelConfig.video.background) > BLACK_BACKGROUND_LUMA),
            expectMotion: () => picture?.feedOnAir() ?? false,
          },
    },
    {
      restartEncoder: () => encoder.restart(),
      encoderRunningSince: () => encoder.runningSince,
      // Silence: bring the bed back (the generated one if the configured one is what failed); a bad
      // picture from the feed: the slate for a while; otherwise (a stalled encoder) restart it again.
      fallback: (fault) => {
        if (fault === 'silence') pump.setBed({ bed: new GeneratedBed(rate), level: config.playout.bed.level || 0.08, duckLevel: config.playout.bed.duckLevel });
        else if ((fault === 'black' || fault === 'frozen') && picture) picture.forceSlate(WATCHDOG_SLATE_MS);
        else encoder.restart();
      },
      alert: (fault, on) => metrics.watchdogAlert.set({ channel, fault }, on ? 1 : 0),
      acted: (fault, step) => metrics.watchdogActions.inc({ channel, fault, step }),
    },
    log,
  );
  if (wd.enabled) watchdog.start();
  // Counters kept by the hot loops, published once a second.
  const seen = { underruns: 0, dropped: 0 };
  const counters = setInterval(() => {
    metrics.playoutUnderruns.inc({ channel }, pump.underruns - seen.underruns);
    seen.underruns = pump.underruns;
    const dropped = picture?.droppedFrames() ?? 0;
    metrics.videoFramesDropped.inc({ channel }, dropped - seen.dropped);
    seen.dropped = dropped;
  }, 1000);
  return {
    stop: () => {
      clearInterval(counters);
      watchdog.stop();
    },
  };
}

/**
 * Everything a broadcaster runs, standby or active: the real-time playout (the bed alone until
 * active), the encoder writing HLS into this member's own directory and keeping the last
 * keyframe for the pushers. `goLive` adds what only the active one does.
 */
async function warmUp(ctx: ProcessContext, channel: string, lead: Leadership) {
  const { config, log, metrics } = ctx;
  const channelConfig = config.channels[channel]!;
  const rate = config.playout.sampleRate;
  const liveRoot = path.resolve(channelConfig.live.dir);
  const memberDir = path.join(liveRoot, MEMBERS_DIR, `${channel}-${ctx.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'));

  const caption = channelConfig.video.captions ? new CaptionFile(path.join(memberDir, 'caption.txt')) : undefined;
  caption?.clear();
  const gop = new GopCache();
  const relays = destinationRelays(channel, channelConfig, log, metrics, gop);
  const picture = await feedPicture(memberDir, channelConfig, log);
  const encoder = new HlsEncoder(
    channelConfig,
    path.join(memberDir, 'hls'),
    rate,
    log,
    () => {
      metrics.encoderRestarts.inc({ channel });
      gop.clear();
      for (const r of relays) r.restart();
    },
    relays.length
      ? (chunk) => {
          gop.push(chunk);
          if (lead.mayPublish) for (const r of relays) r.write(chunk);
        }
      : undefined,
    caption?.path,
    picture?.frames,
  );
  for (const r of relays) r.prepare();
  const bed = await loadBed(config.playout.bed, rate, log);
  const feedAudio = feedSound(channelConfig, bed, rate, log);
  const pump = new RealtimePump(rate, config.playout.leadMs, (pcm, dueAt) => encoder.write(pcm, dueAt), 20, feedAudio?.mix ?? bed);
  encoder.start();
  pump.start();
  // Air nothing until the output is out and its clock known, so on-air times are right from the first line.
  await Promise.race([encoder.clockReady, sleep(15000)]);
  log.info({ channel, dir: memberDir }, 'broadcaster warm: encoding, published nowhere yet');

  let active: { playout: Playout; monitors: { stop: () => void } } | undefined;
  /** The line on air is played to its end (after an abort it ends at once, interrupted). */
  const stopActive = async () => {
    active?.monitors.stop();
    await active?.playout.stop();
  };
  const goLive = async () => {
    for (const r of relays) r.start();
    pointLiveView(liveRoot, channel, path.join(memberDir, 'hls'), log);
    const playout = new Playout(ctx, channel, { pump, encoder, caption, lead });
    await playout.start();
    active = { playout, monitors: startMonitors(ctx, channel, { encoder, pump, picture, hasBed: bed !== undefined }) };
    log.info({ channel, playlist: encoder.playlist }, 'broadcaster ready');
  };

  const stopInputs = () => {
    picture?.stop();
    feedAudio?.stop();
    pump.stop();
  };
  return {
    goLive,
    detail: () => ({ encoderRunning: encoder.running, encoderRestarts: encoder.restartCount, underruns: pump.underruns, onAir: active?.playout.onAir ?? null, destinations: Object.fromEntries(relays.map((r) => [r.name, r.onAir])) }),
    /** Graceful: the line on air is played to its end, then everything closes. */
    stop: async () => {
      await stopActive();
      stopInputs();
      await encoder.stop();
      await Promise.all(relays.map((r) => r.stop()));
    },
    /** At once: nothing more goes out; then the line on air goes back to the queue and the worker closes. */
    abort: async () => {
      stopInputs();
      for (const r of relays) r.kill();
      encoder.kill();
      await stopActive();
    },
  };
}
