import path from 'node:path';
import fs from 'node:fs';
import { UnrecoverableError } from 'bullmq';
import { onShutdown } from '../lifecycle';
import { bootProcess, type ProcessContext } from '../process';
import { startQueueWorker } from '../queue-worker';
import { dropReason } from '../speech-drops';
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
import { freeLoopbackPort } from '../ports';
import { Watchdog } from './watchdog';
import { type Bed, GeneratedBed, LoopedBed, decodeBed } from './bed';
import { type BedMix, RealtimePump } from './realtime-pump';

/**
 * The broadcaster of one channel: a continuous real-time playout (speech from the channel's
 * playout queue in priority order, silence between) into a long-running ffmpeg that writes
 * the local HLS live view. Each utterance's on-air start and end are published.
 */
/** How long the playout waits for a later part of a line before cutting the line short. */
const PART_WAIT_MS = 30_000;
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
      return new DestinationRelay(name, key ? `${d.url.replace(/\/+$/, '')}/${key}` : d.url, key, log, {
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
      bed = new LoopedBed(await decodeBed(cfg.source, rate));
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
  const slate = renderSlate(format, cfg.video.background, feedCfg.slateText, path.join(memberDir, 'slate.txt'), feedCfg.slateImage);
  const feed = new VideoFeed(feedCfg.url, format, log);
  const pacer = new FramePacer(feed, slate, format, feedCfg.lossMs, feedCfg.frozenMs, log);
  const port = await freeLoopbackPort();
  feed.start();
  return {
    frames: { port, onStart: () => pacer.attach(port) },
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
 * Run a channel's broadcaster. Replicas of one channel are hot standbys: one holds the channel's
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
  log.info({ channel }, 'broadcaster standby: waiting for the channel lock');
  // Warming up and waiting for the lock run side by side; the lock is renewed from the moment it
  // is held, since warming up (starting ffmpeg, the first segment) takes longer than the lease.
  const warming = warmUp(ctx, channel, lead);
  warming.then(
    (s) => (state.detail = s.detail),
    (err: Error) => {
      // Without an encoder there is nothing to broadcast: exit, the supervisor restarts us.
      log.error({ channel, err: err.message }, 'broadcaster could not start its encoder');
      process.exit(1);
    },
  );
  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    stopping = true;
    await warming.then((s) => s.stop()).catch(() => {});
    await lead.release(); // the standby takes over at once instead of waiting for the TTL
    await ctx.close();
  });
  ctx.heartbeat.start();
  const token = await lead.acquire(() => stopping);
  if (token === undefined) return;
  state.role = 'active';
  state.token = token;
  lead.keep((why) => {
    // Someone else broadcasts now: stop pushing at once (no graceful drain) and come back as a standby.
    log.error({ channel, fence: token, why }, 'lost the broadcast lock: stopping');
    void warming.then((s) => s.abort());
    setTimeout(() => process.exit(1), 50);
  });
  log.info({ channel, fence: token }, 'broadcaster active');
  const station = await warming;
  if (!stopping) await station.goLive();
}

/** Every broadcaster's own output directory, under the channel's live root. */
const MEMBERS_DIR = '.members';
/** A member directory whose playlist has not changed for this long belongs to a dead broadcaster. */
const STALE_MEMBER_MS = 60_000;

/**
 * Point the channel's live view (`<live root>/<channel>`, a symlink) at the active broadcaster's
 * directory, atomically (rename over the old link); a real directory from an older version is
 * replaced. Directories of broadcasters that stopped writing are removed.
 */
function pointLiveView(liveRoot: string, channel: string, memberDir: string, log: Logger): void {
  const link = path.join(liveRoot, channel);
  const tmp = `${link}.${process.pid}.link`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.relative(liveRoot, memberDir), tmp);
  try {
    if (!fs.lstatSync(link).isSymbolicLink()) fs.rmSync(link, { recursive: true, force: true });
  } catch {
    /* no live view yet */
  }
  fs.renameSync(tmp, link);
  const members = path.dirname(memberDir);
  for (const d of fs.readdirSync(members)) {
    const dir = path.join(members, d);
    if (dir === memberDir || !d.startsWith(`${channel}-`)) continue;
    let last: number;
    try {
      last = fs.statSync(path.join(dir, 'index.m3u8')).mtimeMs;
    } catch {
      last = fs.statSync(dir).mtimeMs;
    }
    if (Date.now() - last < STALE_MEMBER_MS) continue; // a standby's, still encoding
    fs.rmSync(dir, { recursive: true, force: true });
    log.info({ dir: d }, 'removed the output of a broadcaster that is gone');
  }
}

/**
 * Everything a broadcaster runs, standby or active: the real-time playout (the bed alone until
 * active), the encoder writing HLS into this member's own directory and keeping the last
 * keyframe for the pushers. `goLive` adds what only the active one does.
 */
async function warmUp(ctx: ProcessContext, channel: string, lead: Leadership) {
  const { config, log, redis, keys, metrics } = ctx;
  const channelConfig = config.channels[channel]!;
  const rate = config.playout.sampleRate;
  let onAir: string | null = null;
  let captionFor: string | undefined;
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
  await Promise.race([encoder.clockReady, new Promise((r) => setTimeout(r, 15000))]);
  log.info({ channel, dir: memberDir }, 'broadcaster warm: encoding, published nowhere yet');

  let activeParts: { stop: () => Promise<void>; abort: () => void } | undefined;
  const goLive = async () => {
    for (const r of relays) r.start();
    pointLiveView(liveRoot, channel, path.join(memberDir, 'hls'), log);
    activeParts = await startActive();
  };

  const startActive = async () => {
    let current: { utteranceId: string; skipped: boolean } | undefined;
    /** A part of a line, as soon as the audio worker has it (bounded wait). */
    const waitForPart = async (key: string, waitMs: number): Promise<Buffer | null> => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const pcm = await redis.getBuffer(key);
        if (pcm || Date.now() >= deadline) return pcm;
        await new Promise((r) => setTimeout(r, 15));
      }
    };

    const at = (wallMs: number, fn: () => void) => setTimeout(fn, Math.max(0, wallMs - Date.now()));

    // Operator controls (!skip, !clear) reach the broadcaster over pub/sub.
    const controls = redis.duplicate();
    controls.on('message', (_c: string, message: string) => {
      const { action, by, fault } = JSON.parse(message) as { action: string; by?: string; fault?: string };
      // Chaos runs and tests break things on purpose; never honoured unless the process was started for it.
      if (action === 'inject' && process.env.IDOLCAST_FAULT_INJECTION === '1' && fault === 'bed-off') {
        log.warn({ fault }, 'fault injected: background bed off');
        pump.setBed(undefined);
      }
      if (action === 'skip') {
        log.info({ by, utteranceId: onAir }, 'line skipped');
        if (current) current.skipped = true;
        pump.skip();
      }
    });
    await controls.subscribe(keys.control(channel));

    const { stop } = startQueueWorker(ctx, 'playout', { concurrency: 1, channel }, async (u) => {
      const partKeys = Array.from({ length: u.parts }, (_, i) => keys.speechPcm(u.utteranceId, i));
      const dropped = await dropReason(u, redis, keys, config.degradation.shortTtlMs);
      if (dropped) {
        metrics.speechDropped.inc({ stage: 'playout', reason: dropped });
        await redis.del(...partKeys);
        log.info({ utteranceId: u.utteranceId, reason: dropped, waitedMs: Date.now() - u.acceptedAt }, 'line dropped before air');
        return { dropped };
      }
      // On-air times on the live view's clock, so captions and latency figures match what viewers get.
      const offset = encoder.streamOffsetMs;
      let startAt: number | undefined;
      let endAt = 0;
      let played = 0;
      current = { utteranceId: u.utteranceId, skipped: false };
      for (const [part, key] of partKeys.entries()) {
        const pcm = await waitForPart(key, part === 0 ? 0 : PART_WAIT_MS);
        if (!pcm) {
          if (part === 0) throw new UnrecoverableError('speech audio is gone (expired before air)');
          log.warn({ utteranceId: u.utteranceId, part, parts: u.parts }, 'a later part never came: line cut short');
          break;
        }
        // The caption goes on the picture when the line's first sample does (the encoder's clock).
        const times = await pump.play(pcm, part === 0 && caption ? (due) => at(due, () => ((captionFor = u.utteranceId), caption.set(u.text))) : undefined);
        if (startAt === undefined) {
          startAt = times.startAt + offset;
          const base = { utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt };
          at(startAt, () => {
            onAir = u.utteranceId;
            ctx.publish(channel, { type: 'onair-start', ...base }).catch((err: Error) => log.warn({ err: err.message }, 'on-air event not published'));
          });
        }
        endAt = times.endAt + offset;
        played++;
        if (current.skipped) break;
      }
      current = undefined;
      const captionEnd = endAt - offset;
      at(captionEnd, () => captionFor === u.utteranceId && (caption?.clear(), (captionFor = undefined)));
      const end = { utteranceId: u.utteranceId, text: u.text, voice: u.voice, user: u.origin.user, startAt, endAt };
      at(endAt, () => {
        if (onAir === u.utteranceId) onAir = null;
        ctx.publish(channel, { type: 'onair-end', ...end }).catch((err: Error) => log.warn({ err: err.message }, 'on-air event not published'));
      });
      metrics.onAir.inc({ channel });
      // On the stream's clock, as the viewer hears it.
      if (startAt !== undefined) metrics.chatToOnAir.observe({ channel }, Math.max(0, startAt - u.acceptedAt) / 1000);
      await redis.del(...partKeys);
      log.info({ utteranceId: u.utteranceId, parts: u.parts, played, startAt, endAt, queuedMs: startAt! - u.acceptedAt }, 'on air');
      return { startAt, endAt };
    });
    const wd = config.playout.watchdog;
    const watchdog = new Watchdog(
      path.dirname(encoder.playlist),
      {
        expectSound: bed !== undefined,
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
    log.info({ channel, playlist: encoder.playlist }, 'broadcaster ready');
    return {
      /** Graceful: the line on air is played to its end. */
      stop: async () => {
        clearInterval(counters);
        watchdog.stop();
        await stop();
        await controls.quit().catch(() => controls.disconnect());
      },
      abort: () => {
        clearInterval(counters);
        watchdog.stop();
      },
    };
  };

  return {
    goLive,
    detail: () => ({ encoderRunning: encoder.running, encoderRestarts: encoder.restartCount, underruns: pump.underruns, onAir, destinations: Object.fromEntries(relays.map((r) => [r.name, r.onAir])) }),
    /** Graceful: the line on air is played to its end, then everything closes. */
    stop: async () => {
      await activeParts?.stop();
      picture?.stop();
      feedAudio?.stop();
      pump.stop();
      await encoder.stop();
      await Promise.all(relays.map((r) => r.stop()));
    },
    /** At once: nothing more goes out. */
    abort: () => {
      activeParts?.abort();
      picture?.stop();
      feedAudio?.stop();
      pump.stop();
      for (const r of relays) r.kill();
      encoder.kill();
    },
  };
}
