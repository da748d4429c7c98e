import { Animator } from './animator';
import { mouthShape, type MouthShape } from './renderer';

/** What the overlay's avatar shows from `showAt` (stream clock, ms). */
export interface OverlayAvatarState {
  mouth: MouthShape;
  expression: string;
  showAt: number;
}

export interface OverlayTrackOptions {
  /** The speech on air: the samples due in [fromMs, toMs) (the pump's clock). */
  speech: { window(fromMs: number, toMs: number): Int16Array };
  sampleRate: number;
  /** Added to a due time to give the stream clock viewers hear (the encoder's streamOffsetMs). */
  streamOffsetMs: () => number;
  /** One step of the mouth, and at most one update per step (1000 / maxUpdatesPerSecond). */
  stepMs: number;
  /**
   * How far ahead of now the speech is read: the pump hands it over ahead of its time, and an
   * update sent early reaches the overlay before its moment (the page waits for `showAt`).
   */
  lookAheadMs: number;
  /** An expression set without a hold returns to neutral after this. */
  neutralAfterMs: number;
  /** Sent even without a change this often, so an overlay that connects or reconnects catches up. */
  refreshMs?: number;
  publish: (state: OverlayAvatarState) => void;
}

/**
 * The overlay's avatar, driven by the active broadcaster from the same speech the picture's mouth
 * follows (the samples handed to the encoder, with the same gate and attack/release): the mouth
 * quantised to closed / half / open and the expression, published only when either changes (at
 * most one update a step) and refreshed now and then. Blinking and breathing are the page's own.
 */
export class OverlayTrack {
  private readonly animator: Animator;
  private upTo: number;
  private last?: { mouth: MouthShape; expression: string; sentAt: number };
  private timer?: NodeJS.Timeout;
  /** Updates published (in the broadcaster's fleet detail, `overlayAvatarUpdates`). */
  sent = 0;

  constructor(private readonly opts: OverlayTrackOptions, now = Date.now()) {
    this.animator = new Animator({ neutralAfterMs: opts.neutralAfterMs }, now);
    this.upTo = now;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.opts.stepMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Shows `name` from now for `holdMs` (the broadcaster checked it against the pack). */
  setExpression(name: string, holdMs: number, now = Date.now()): void {
    this.animator.setExpression(name, now, holdMs);
  }

  /**
   * Steps the mouth over the speech due since the last tick up to `now` + the look-ahead; the
   * last step's state goes out if it differs from what was sent (or the refresh is due). After a
   * stall, the missed steps are skipped rather than replayed: their moments are gone.
   */
  tick(now = Date.now()): void {
    const { stepMs, lookAheadMs, speech, sampleRate } = this.opts;
    const until = now + lookAheadMs;
    if (until - this.upTo > 4 * stepMs) this.upTo = until - stepMs;
    let state: { mouth: MouthShape; expression: string; at: number } | undefined;
    for (; this.upTo + stepMs <= until; this.upTo += stepMs) {
      const end = this.upTo + stepMs;
      const frame = this.animator.frame(end, speech.window(this.upTo, end), sampleRate);
      state = { mouth: mouthShape(typeof frame.mouth === 'number' ? frame.mouth : 1), expression: frame.expression, at: end };
    }
    if (!state) return;
    const last = this.last;
    const changed = !last || last.mouth !== state.mouth || last.expression !== state.expression;
    if (!changed && now - last.sentAt < (this.opts.refreshMs ?? 2000)) return;
    this.last = { mouth: state.mouth, expression: state.expression, sentAt: now };
    this.sent++;
    this.opts.publish({ mouth: state.mouth, expression: state.expression, showAt: Math.round(state.at + this.opts.streamOffsetMs()) });
  }
}
