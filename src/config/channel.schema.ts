import { z } from 'zod';
import { colour, durationMs } from './fields';
import { vtubeStudioSchema } from './vtubestudio.schema';

/** One channel: its picture, its local live view and the platforms it is pushed to. */
export const channelSchema = z.strictObject({
  /** Shown on the local page. */
  title: z.string().min(1).max(100).default('idolcast'),
  video: z
    .strictObject({
      width: z.number().int().min(64).max(3840).default(640),
      height: z.number().int().min(64).max(2160).default(360),
      fps: z.number().int().min(1).max(60).default(15),
      /** Background colour of the generated picture. */
      background: colour.default('#1d1b2e'),
      videoBitrateKbps: z.number().int().min(100).max(20000).default(600),
      audioBitrateKbps: z.number().int().min(32).max(320).default(96),
      /** Draw the line on air as a caption on the picture. */
      captions: z.boolean().default(true),
      /** A still image as the picture (fitted into the frame, letterboxed in `background`). */
      image: z.string().min(1).optional(),
      /** A video file played in a loop as the picture (its own sound is not used). */
      loop: z.string().min(1).optional(),
      /** No picture at all: the stream carries the sound only. */
      audioOnly: z.boolean().default(false),
      /**
       * An external video feed instead of the generated picture (OBS pushing RTMP or SRT to us, or
       * any URL ffmpeg reads), with the playout audio on it. While it is gone, a slate is shown.
       */
      feed: z
        .strictObject({
          url: z.string().min(1),
          /** No new frame for this long: the slate goes on air. */
          lossMs: durationMs(1000),
          /** The very same picture for this long counts as a frozen feed: the slate goes on air (0: never; a still OBS scene would trip it). */
          frozenMs: durationMs(10_000),
          slateText: z.string().min(1).max(200).default('Be right back'),
          /** A still image for the slate (the channel colour when none). */
          slateImage: z.string().optional(),
          /** The feed's own sound, mixed under the idol's speech in place of the bed (the bed plays while the feed has none). */
          audio: z
            .strictObject({
              enabled: z.boolean().default(true),
              /** Gain of the feed's sound in gaps (1: as sent). */
              level: z.number().min(0).max(2).default(1),
              /** Gain of the feed's sound under speech. */
              duckLevel: z.number().min(0).max(2).default(0.35),
            })
            .prefault({}),
        })
        .optional(),
      /**
       * The built-in avatar drawn over the picture (the generated colour, the still image, the
       * looped video or the feed), in every frame the encoder sends: mouth from the audio on air, blinks, breathing,
       * an expression set by `!emote`.
       */
      avatar: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** A pack folder (manifest + PNG layers); none: the built-in character. */
          pack: z.string().min(1).optional(),
          /** Top-left corner of the avatar box in the frame (even pixels: yuv420p chroma is 2×2). */
          x: z.number().int().min(0).multipleOf(2, 'an even number of pixels').default(0),
          y: z.number().int().min(0).multipleOf(2, 'an even number of pixels').default(0),
          /** Size relative to the pack's canvas (the pack's own scale when not set). */
          scale: z.number().min(0.1).max(4).optional(),
          /** An expression set by `!emote` returns to neutral after this long. */
          expressionResetMs: durationMs(60_000),
          /** A Live2D model in VTube Studio driven like the built-in avatar (on or off independently of it). */
          vtubeStudio: vtubeStudioSchema,
        })
        .prefault({}),
    })
    .refine((v) => [v.image, v.loop, v.feed, v.audioOnly || undefined].filter((x) => x !== undefined).length <= 1, 'choose one picture: image, loop, feed or audioOnly')
    .refine((v) => !v.avatar.enabled || !v.audioOnly, 'the avatar needs a picture: it cannot be drawn with audioOnly')
    .prefault({}),
  live: z
    .strictObject({
      /** Directory the local HLS live view is written to (one sub-directory per channel). */
      dir: z.string().default('./data/live'),
      /** HLS segment length; shorter means a fresher live view and more files. */
      segmentSeconds: z.number().min(0.5).max(10).default(1),
      /** Segments kept in the playlist (older ones are deleted). */
      listSize: z.number().int().min(3).max(60).default(6),
    })
    .prefault({}),
  /**
   * Platforms the channel is pushed to at once (Twitch, YouTube, TikTok ingest), by name. Each has
   * its own pusher: one that fails is retried with capped backoff and never disturbs the others.
   */
  destinations: z
    .record(
      z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a destination name: a-z, 0-9, _ -'),
      z.strictObject({
        /** RTMP(S) ingest URL without the stream key, e.g. rtmp://live.twitch.tv/app. */
        url: z.string().regex(/^rtmps?:\/\/[^\s]+$/, 'an rtmp:// or rtmps:// URL'),
        /** Name of the environment variable holding the stream key (keys never live in the file and are never logged). */
        keyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
        enabled: z.boolean().default(true),
      }),
    )
    .default({}),
});
export type ChannelConfig = z.infer<typeof channelSchema>;
