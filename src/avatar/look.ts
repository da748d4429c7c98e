import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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

/** A loaded pack placed in the frame (throws when it does not fit). */
function place(pack: AvatarPack, cfg: AvatarConfig, frame: { width: number; height: number }): AvatarLook {
  return { pack, renderer: new AvatarRenderer(pack), compositor: new YuvCompositor(frame.width, frame.height, pack.width, pack.height, { x: cfg.x, y: cfg.y }) };
}

/** Loads the channel's pack and places it in the frame; throws naming what is wrong (a layer, a size, the fit). */
export function openLook(cfg: AvatarConfig, frame: { width: number; height: number }): AvatarLook {
  return place(loadPack(packDir(cfg), cfg.scale), cfg, frame);
}

/** How long the pack loader's thread may take (seconds normally; minutes only on a machine far past its capacity). */
const THREAD_TIMEOUT_MS = 120_000;

type ThreadAnswer = { ok: true; pack: AvatarPack } | { ok: false; problems: string[]; dir: string };

/**
 * `openLook` with the loading on a thread of its own: decoding a pack's PNGs takes about half a
 * second of CPU (more on a busy machine), which on the event loop of a broadcaster on air would
 * stall its frames, its speech and the renewal of its channel lock.
 */
export function openLookOffThread(cfg: AvatarConfig, frame: { width: number; height: number }): Promise<AvatarLook> {
  const script = path.join(__dirname, 'pack-thread.js');
  // Run from the TypeScript sources (tests in-process) there is no compiled thread script: load here.
  if (!fs.existsSync(script)) return Promise.resolve().then(() => openLook(cfg, frame));
  return new Promise((resolve, reject) => {
    const thread = new Worker(script, { workerData: cfg });
    // Bounded: a loader that never answers must not leave the broadcaster waiting (it goes on without her, logged).
    const timer = setTimeout(() => void thread.terminate(), THREAD_TIMEOUT_MS);
    thread.once('exit', () => clearTimeout(timer));
    // Placing it may throw (a pack that does not fit the frame): that rejects, as a broken pack does.
    thread.once('message', (m: ThreadAnswer) => resolve(Promise.resolve(m).then((a) => (a.ok ? place(a.pack, cfg, frame) : Promise.reject(new AvatarPackError(a.dir, a.problems))))));
    thread.once('error', reject);
    // Harmless once settled; otherwise the thread died without an answer.
    thread.once('exit', (code) => reject(new Error(`the avatar pack loader ended without an answer (exit ${code})`)));
  });
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
