import path from 'node:path';
import type { ChannelConfig } from '../config/schema';
import { builtInPackDir } from './default-pack';
import { AvatarPackError, loadPack, type AvatarPack } from './pack';
import { AvatarRenderer } from './renderer';
import { YuvCompositor } from './yuv';

export type AvatarConfig = ChannelConfig['video']['avatar'];

/** A pack ready for one channel's picture: loaded, drawn by its renderer, placed in the frame. */
export interface AvatarLook {
  pack: AvatarPack;
  renderer: AvatarRenderer;
  compositor: YuvCompositor;
}

/** Where a channel's pack is read from: its folder, or the built-in character rendered to PNGs. */
export function packDir(cfg: AvatarConfig): string {
  return cfg.pack ? path.resolve(cfg.pack) : builtInPackDir();
}

/** Loads the channel's pack and places it in the frame; throws naming what is wrong (a layer, a size, the fit). */
export function openLook(cfg: AvatarConfig, frame: { width: number; height: number }): AvatarLook {
  const pack = loadPack(packDir(cfg), cfg.scale);
  return { pack, renderer: new AvatarRenderer(pack), compositor: new YuvCompositor(frame.width, frame.height, pack.width, pack.height, { x: cfg.x, y: cfg.y }) };
}

/**
 * What `idolcast config check` says of a channel's avatar: each problem of its pack (the missing
 * layer, the layer of the wrong size…) or of its place in the frame; none when the broadcaster can
 * draw it.
 */
export function avatarProblems(cfg: AvatarConfig, frame: { width: number; height: number }): string[] {
  if (!cfg.enabled) return [];
  try {
    openLook(cfg, frame);
    return [];
  } catch (err) {
    return err instanceof AvatarPackError ? err.problems : [(err as Error).message];
  }
}
