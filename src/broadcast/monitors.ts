import path from 'node:path';
import type { ProcessContext } from '../process';
import { GeneratedBed } from './bed';
import type { HlsEncoder } from './hls-encoder';
import type { FeedPicture } from './output';
import type { RealtimePump } from './realtime-pump';
import { Watchdog } from './watchdog';

/** A feed the watchdog found black or frozen is replaced by the slate this long, then tried again. */
const WATCHDOG_SLATE_MS = 30_000;
/** A background colour darker than this (0–255) is meant to look black. */
const BLACK_BACKGROUND_LUMA = 40;

/** Rec. 601 luma of a #rrggbb colour, 0–255. */
function luma(colour: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  return 0.299 * r! + 0.587 * g! + 0.114 * b!;
}

/**
 * What watches the active broadcaster's output: the watchdog (silence, a stalled encoder, a black
 * or frozen picture) and the hot loops' counters, published once a second.
 */
export function startMonitors(
  ctx: ProcessContext,
  channel: string,
  { encoder, pump, picture, hasBed }: { encoder: HlsEncoder; pump: RealtimePump; picture: FeedPicture | undefined; hasBed: boolean },
) {
  const { config, log, metrics } = ctx;
  const channelConfig = config.channels[channel]!;
  const rate = config.playout.sampleRate;
  const wd = config.playout.watchdog;
  const avatar = () => picture?.avatar?.shown ?? false;
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
            // A feed should show something and move; the avatar is never black; a generated picture is black
            // only if its colour is dark (an image or a looped video may be dark on purpose).
            expectPicture: () => picture?.feedOnAir() ?? (avatar() || (!channelConfig.video.image && !channelConfig.video.loop && luma(channelConfig.video.background) > BLACK_BACKGROUND_LUMA)),
            // Only a feed is expected to move: the avatar's blinks and breathing are a few pixels, under
            // what the 32x18 thumbnails tell apart, and our own frames stopping shows as a stalled encoder.
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
        else if ((fault === 'black' || fault === 'frozen') && picture?.hasFeed) picture.forceSlate(WATCHDOG_SLATE_MS);
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
