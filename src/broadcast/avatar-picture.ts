import { Animator } from '../avatar/animator';
import { openLookOffThread, type AvatarConfig, type AvatarLook } from '../avatar/look';
import { PcmRing } from '../avatar/pcm-ring';
import type { Logger } from '../logger';

export type { AvatarConfig } from '../avatar/look';

/**
 * The avatar of a channel's picture: its pack, its life (the animator) and the speech it lip-syncs
 * to. `compose` draws it over frame `index` of an encoder run, whose time on air is `index` frame
 * times after the run's first sample (`mediaStartAt`): the mouth takes exactly the speech samples
 * encoded with that frame, so it stays in sync through restarts and whatever the TTS engine.
 */
export class AvatarPicture {
  readonly speech: PcmRing;
  /** None while the pack cannot be used (broken, or not fitting the frame): the picture goes out without her until a reload brings a good one. */
  private look?: AvatarLook;
  private readonly animator: Animator;
  private readonly frameMs: number;
  private mediaStartAt: () => number | undefined = () => undefined;
  /** Reloads asked for so far: only the latest one's pack goes on the picture. */
  private reloads = 0;

  /**
   * The channel's avatar, its pack loaded off the event loop (a standby warming up renews the
   * channel lock meanwhile). A pack that cannot be used leaves her off the picture (logged) until
   * a reload brings a good one: the channel stays on air.
   */
  static async open(cfg: AvatarConfig, frame: { width: number; height: number; fps: number }, sampleRate: number, log: Logger): Promise<AvatarPicture> {
    let look: AvatarLook | undefined;
    const since = Date.now();
    try {
      look = await openLookOffThread(cfg, frame);
      log.info({ pack: look.pack.dir, width: look.pack.width, height: look.pack.height, x: cfg.x, y: cfg.y, loadMs: Date.now() - since }, 'avatar on the picture');
    } catch (err) {
      log.error({ err: (err as Error).message, loadMs: Date.now() - since }, 'avatar not shown: its pack cannot be used here');
    }
    return new AvatarPicture(cfg, frame, sampleRate, log, look);
  }

  private constructor(private readonly cfg: AvatarConfig, private readonly frame: { width: number; height: number; fps: number }, private readonly sampleRate: number, private readonly log: Logger, look: AvatarLook | undefined) {
    this.look = look;
    this.animator = new Animator({ neutralAfterMs: cfg.expressionResetMs, breathPeriodMs: this.look?.pack.manifest.breathing.periodMs }, Date.now());
    this.speech = new PcmRing(sampleRate);
    this.frameMs = 1000 / frame.fps;
  }

  /** Whether she is on the picture (her pack loaded). */
  get shown(): boolean {
    return this.look !== undefined;
  }

  /** Where the encoder's clock starts (its current run's first sample). */
  follow(mediaStartAt: () => number | undefined): void {
    this.mediaStartAt = mediaStartAt;
  }

  /** Names the pack offers (neutral, happy, … and its own). */
  get expressions(): string[] {
    return this.look?.renderer.expressionNames() ?? [];
  }

  /**
   * Shows `name` (one the pack offers) for `holdMs` (default: the configured reset time) in the
   * frames from `fromMs` on (the encoder's clock: a line's first sample), or from the next frame.
   */
  setExpression(name: string, holdMs = this.cfg.expressionResetMs, fromMs?: number): boolean {
    if (!this.look?.renderer.hasExpression(name)) return false;
    this.animator.setExpression(name, fromMs, holdMs);
    return true;
  }

  /**
   * Reads the pack again (the operator changed its files), off the event loop. The new pack
   * replaces the old one between two frames; one that is broken or does not fit the frame is
   * refused and the previous avatar stays on the picture (logged, naming what is wrong). The
   * expression and the life go on. Of reloads asked for in quick succession, the last one wins.
   */
  async reload(by?: string): Promise<boolean> {
    const mine = ++this.reloads;
    let look: AvatarLook;
    try {
      look = await openLookOffThread(this.cfg, this.frame);
    } catch (err) {
      this.log.error({ err: (err as Error).message, by }, 'avatar pack not reloaded: keeping the previous avatar');
      return false;
    }
    if (mine !== this.reloads) return false;
    this.look = look;
    this.log.info({ pack: look.pack.dir, width: look.pack.width, height: look.pack.height, by }, 'avatar pack reloaded');
    return true;
  }

  compose = (background: Buffer, index: number): Buffer => {
    if (!this.look) return background;
    const at = (this.mediaStartAt() ?? Date.now()) + index * this.frameMs;
    const samples = this.speech.window(at, at + this.frameMs);
    const { renderer, compositor } = this.look;
    const avatar = renderer.render(this.animator.frame(at, samples, this.sampleRate));
    return compositor.compose(background, avatar);
  };
}
