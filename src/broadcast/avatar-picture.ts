import os from 'node:os';
import path from 'node:path';
import { Animator } from '../avatar/animator';
import { ensureDefaultPack } from '../avatar/default-pack';
import { loadPack } from '../avatar/pack';
import { PcmRing } from '../avatar/pcm-ring';
import { AvatarRenderer } from '../avatar/renderer';
import { YuvCompositor } from '../avatar/yuv';
import type { ChannelConfig } from '../config/schema';
import type { Logger } from '../logger';

export type AvatarConfig = ChannelConfig['video']['avatar'];

/** The built-in character, rendered once per machine from the SVGs in the repo (nothing is fetched). */
function builtInPack(): string {
  const dir = path.join(os.tmpdir(), `idolcast-avatar-default-${process.getuid?.() ?? 0}`);
  try {
    return ensureDefaultPack(dir);
  } catch {
    // Another broadcaster was swapping the same folder in at that moment: its rendering is as good.
    return ensureDefaultPack(dir);
  }
}

/**
 * The avatar of a channel's picture: its pack, its life (the animator) and the speech it lip-syncs
 * to. `compose` draws it over frame `index` of an encoder run, whose time on air is `index` frame
 * times after the run's first sample (`mediaStartAt`): the mouth takes exactly the speech samples
 * encoded with that frame, so it stays in sync through restarts and whatever the TTS engine.
 */
export class AvatarPicture {
  readonly speech: PcmRing;
  private readonly renderer: AvatarRenderer;
  private readonly animator: Animator;
  private readonly compositor: YuvCompositor;
  private mediaStartAt: () => number | undefined = () => undefined;

  constructor(private readonly cfg: AvatarConfig, frame: { width: number; height: number; fps: number }, private readonly sampleRate: number, log: Logger) {
    const pack = loadPack(cfg.pack ? path.resolve(cfg.pack) : builtInPack(), cfg.scale);
    this.renderer = new AvatarRenderer(pack);
    this.animator = new Animator({ neutralAfterMs: cfg.expressionResetMs, breathPeriodMs: pack.manifest.breathing.periodMs }, Date.now());
    this.compositor = new YuvCompositor(frame.width, frame.height, pack.width, pack.height, { x: cfg.x, y: cfg.y });
    this.speech = new PcmRing(sampleRate);
    this.frameMs = 1000 / frame.fps;
    log.info({ pack: pack.dir, width: pack.width, height: pack.height, x: cfg.x, y: cfg.y }, 'avatar on the picture');
  }

  private readonly frameMs: number;

  /** Where the encoder's clock starts (its current run's first sample). */
  follow(mediaStartAt: () => number | undefined): void {
    this.mediaStartAt = mediaStartAt;
  }

  /** Names the pack offers (neutral, happy, … and its own). */
  get expressions(): string[] {
    return this.renderer.expressionNames();
  }

  /** Shows `name` (one the pack offers) for `holdMs` (default: the configured reset time). */
  setExpression(name: string, holdMs = this.cfg.expressionResetMs): boolean {
    if (!this.renderer.hasExpression(name)) return false;
    this.animator.setExpression(name, Date.now(), holdMs);
    return true;
  }

  compose = (background: Buffer, index: number): Buffer => {
    const at = (this.mediaStartAt() ?? Date.now()) + index * this.frameMs;
    const samples = this.speech.window(at, at + this.frameMs);
    const avatar = this.renderer.render(this.animator.frame(at, samples, this.sampleRate));
    return this.compositor.compose(background, avatar);
  };
}
