import path from 'node:path';
import type { ChannelConfig, Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { ProcessContext } from '../process';
import { type Bed, GeneratedBed, LoopedBed, decodeBed } from './bed';
import { PcmRing } from '../avatar/pcm-ring';
import { AvatarPicture } from './avatar-picture';
import { CaptionFile } from './caption-file';
import { DestinationRelay } from './destination-relay';
import { FeedAudio } from './feed-audio';
import { GopCache } from './gop-cache';
import { HlsEncoder } from './hls-encoder';
import type { Leadership } from './leadership';
import { LIVE_SOCKET, LiveSocket } from './live-socket';
import { MEMBERS_DIR, pointLiveView } from './live-view';
import { type BedMix, RealtimePump } from './realtime-pump';
import { FramePacer, VideoFeed, renderSlate } from './video-feed';
import { sleep } from '../time';

/** One pusher per enabled destination; the stream key is the one the config loader read from the variable `keyEnv` names. */
function destinationRelays(channel: string, config: ChannelConfig, streamKeys: Record<string, string>, log: Logger, metrics: Metrics, gop: GopCache): DestinationRelay[] {
  return Object.entries(config.destinations)
    .filter(([, d]) => d.enabled)
    .map(([name, d]) => {
      const key = d.keyEnv && Object.hasOwn(streamKeys, d.keyEnv) ? streamKeys[d.keyEnv] : undefined;
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

/** With an external feed or the avatar configured: the feed reader, its slate and the pacer that hands the encoder frames. */
export type FeedPicture = NonNullable<Awaited<ReturnType<typeof feedPicture>>>;

/** A looped video under the avatar is read like a feed (the encoder takes one input: our frames); its colour slate shows until its first frame. */
const LOOP_LOSS_MS = 1000;

async function feedPicture(memberDir: string, cfg: ChannelConfig, rate: number, log: Logger) {
  const { feed: feedCfg, avatar: avatarCfg } = cfg.video;
  if (!feedCfg && !avatarCfg.enabled) return undefined;
  const format = { width: cfg.video.width, height: cfg.video.height, fps: cfg.video.fps };
  const avatar = avatarCfg.enabled ? await AvatarPicture.open(avatarCfg, format, rate, log) : undefined;
  // Without a feed the "slate" is the picture itself: the colour or the still image, under the avatar.
  const slate = await renderSlate(format, cfg.video.background, feedCfg?.slateText ?? ' ', path.join(memberDir, 'slate.txt'), log, feedCfg ? feedCfg.slateImage : cfg.video.image);
  const loop = !feedCfg && cfg.video.loop ? path.resolve(cfg.video.loop) : undefined;
  const feed = feedCfg ? new VideoFeed(feedCfg.url, format, log) : loop ? new VideoFeed(loop, format, log, true) : undefined;
  const pacer = new FramePacer(feed, slate, format, feedCfg?.lossMs ?? (loop ? LOOP_LOSS_MS : 0), feedCfg?.frozenMs ?? 0, log, avatar?.compose);
  feed?.start();
  return {
    frames: { socketPath: pacer.socketPath, onStart: () => pacer.attach() },
    avatar,
    /** An external feed (a loop is ours: the watchdog expects of it what it expects of an image). */
    hasFeed: feedCfg !== undefined,
    droppedFrames: () => pacer.droppedFrames,
    /** Undefined without an external feed. */
    feedOnAir: () => (feedCfg ? pacer.feedOnAir : undefined),
    forceSlate: (ms: number) => pacer.forceSlate(ms),
    stop: () => (feed?.stop(), pacer.stop()),
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

/** The caption file drawn on the picture (none with `video.captions` off), empty to start with. */
function openCaption(channelConfig: ChannelConfig, memberDir: string): CaptionFile | undefined {
  if (!channelConfig.video.captions) return undefined;
  const caption = new CaptionFile(path.join(memberDir, 'caption.txt'));
  caption.clear();
  return caption;
}

/**
 * A broadcaster's output, standby or active: the real-time pump (the bed alone until a line
 * plays), the encoder writing HLS into this member's own directory and keeping the last keyframe
 * for the pushers, the pushers (idle until `goOnAir`), and the live view (pointed here by
 * `goOnAir`). Chunks reach the destinations only while the channel lock is known to be ours.
 */
export async function openOutput(ctx: ProcessContext, channel: string, lead: Leadership) {
  const { config, log, metrics } = ctx;
  const channelConfig = config.channels[channel]!;
  const rate = config.playout.sampleRate;
  const liveRoot = path.resolve(channelConfig.live.dir);
  const memberDir = path.join(liveRoot, MEMBERS_DIR, `${channel}-${ctx.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'));

  const caption = openCaption(channelConfig, memberDir);
  // The stream's on-air clock starts at the run's first sample, as the encoder was handed it.
  const gop = new GopCache(() => encoder.mediaStartAt);
  const live = new LiveSocket(path.join(memberDir, LIVE_SOCKET), gop, () => encoder.streamOffsetMs, log);
  const relays = destinationRelays(channel, channelConfig, config.resolved?.streamKeys ?? {}, log, metrics, gop);
  const picture = await feedPicture(memberDir, channelConfig, rate, log);
  const encoder = new HlsEncoder(
    channelConfig,
    path.join(memberDir, 'hls'),
    rate,
    log,
    () => {
      metrics.encoderRestarts.inc({ channel });
      gop.clear();
      live.restart();
      for (const r of relays) r.restart();
    },
    (chunk) => {
      gop.push(chunk);
      if (lead.mayPublish) for (const r of relays) r.write(chunk);
      live.write(chunk);
    },
    caption?.path,
    picture?.frames,
  );
  for (const r of relays) r.prepare();
  const bed = await loadBed(config.playout.bed, rate, log);
  const feedAudio = feedSound(channelConfig, bed, rate, log);
  const avatar = picture?.avatar;
  avatar?.follow(() => encoder.mediaStartAt);
  // The speech on air, by when it is due: the built-in avatar's mouth, VTube Studio's and the overlay's follow it.
  const speech = avatar?.speech ?? (channelConfig.video.avatar.vtubeStudio.enabled || config.overlay.avatar.enabled ? new PcmRing(rate) : undefined);
  const pump = new RealtimePump(rate, config.playout.leadMs, (pcm, dueAt) => encoder.write(pcm, dueAt), 20, feedAudio?.mix ?? bed, speech && ((pcm, dueAt) => speech.push(pcm, dueAt)));
  encoder.start();
  live.listen();
  pump.start();
  // Air nothing until the output is out and its clock known, so on-air times are right from the first line.
  await Promise.race([encoder.clockReady, sleep(15000)]);
  log.info({ channel, dir: memberDir }, 'broadcaster warm: encoding, published nowhere yet');

  const stopInputs = () => {
    live.close();
    picture?.stop();
    feedAudio?.stop();
    pump.stop();
  };
  return {
    encoder,
    pump,
    caption,
    picture,
    speech,
    hasBed: bed !== undefined,
    /** Push to the destinations and point the channel's live view at this member's HLS. */
    goOnAir: () => {
      for (const r of relays) r.start();
      pointLiveView(liveRoot, channel, path.join(memberDir, 'hls'), log);
    },
    detail: () => ({ encoderRunning: encoder.running, encoderRestarts: encoder.restartCount, encoderSpeed: encoder.speed, underruns: pump.underruns, destinations: Object.fromEntries(relays.map((r) => [r.name, r.onAir])) }),
    /** Graceful: the encoder and the pushers close after what they have. */
    stop: async () => {
      stopInputs();
      await encoder.stop();
      await Promise.all(relays.map((r) => r.stop()));
    },
    /** At once: nothing more goes out. */
    kill: () => {
      stopInputs();
      for (const r of relays) r.kill();
      encoder.kill();
    },
  };
}
export type Output = Awaited<ReturnType<typeof openOutput>>;
