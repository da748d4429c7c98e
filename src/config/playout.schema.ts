import { z } from 'zod';
import { durationMs } from './fields';

/** The playout and broadcaster: timing, the standby takeover, the bed under speech and the watchdog. */
export const playoutSchema = z
  .strictObject({
    /** Sample rate of the playout (speech is resampled to it); mono 16-bit. */
    sampleRate: z.number().int().min(8000).max(48000).default(24000),
    /** How far ahead of real time the playout feeds the encoder. */
    leadMs: durationMs(250),
    /** Speech audio waiting in Redis longer than this is dropped (bounds Redis memory). */
    audioTtlMs: durationMs(15 * 60 * 1000),
    /**
     * The active broadcaster of a channel holds a lock in Redis for this long and renews it
     * every third of it; a standby takes over when it lapses (so, at most this long after the
     * active one dies, plus the encoder's start).
     */
    leaderLockMs: z.number().int().min(300).max(60_000).default(1000),
    /**
     * Warm standby broadcasters per channel that `idolcast up` runs next to the active one: a
     * crashed broadcaster is then replaced in about a second instead of a restart and warm-up
     * (each costs about one more encoder's CPU).
     */
    standbys: z.number().int().min(0).max(3).default(0),
    /** Background sound under the playout, so a gap is never dead air. */
    bed: z
      .strictObject({
        /** `generated` (a soft pad, no file needed), `none` (silence between lines), or an audio file to loop. */
        source: z.string().min(1).default('generated'),
        /** Gain of the bed in the gaps (0–1, linear). */
        level: z.number().min(0).max(1).default(0.08),
        /** Gain of the bed under speech. */
        duckLevel: z.number().min(0).max(1).default(0.02),
      })
      .prefault({}),
    /** Watches the channel's own output and escalates on a fault: restart the encoder, fall back, alert. */
    watchdog: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** With a bed configured, silence longer than this is a fault. */
        silenceMs: durationMs(2500),
        /** No new live-view segment for this long is a stalled stream. */
        stallMs: durationMs(3000),
        /** Time each step gets to clear a fault before the next one. */
        stepMs: durationMs(3000),
        /** A black picture (while the feed or a non-dark background should show) longer than this is a fault (0: never). */
        blackMs: durationMs(3000),
        /** The very same picture from a feed that should move, longer than this, is a fault (0: never). */
        frozenMs: durationMs(3000),
      })
      .prefault({}),
  })
  .prefault({});
