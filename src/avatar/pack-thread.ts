import { parentPort, workerData } from 'node:worker_threads';
import { packDir, type AvatarConfig } from './look';
import { AvatarPackError, loadPack } from './pack';

/**
 * The pack loader's thread (started by `openLookOffThread` in look.ts): reads and decodes the
 * channel's pack and hands it over, its layers' pixels transferred, not copied; or its problems.
 */
function run(cfg: AvatarConfig): void {
  const port = parentPort!;
  try {
    const pack = loadPack(packDir(cfg), cfg.scale);
    const buffers = new Set([...pack.layers.values()].map((s) => s.data.buffer as ArrayBuffer));
    port.postMessage({ ok: true, pack }, [...buffers]);
  } catch (err) {
    port.postMessage({ ok: false, problems: err instanceof AvatarPackError ? err.problems : [(err as Error).message], dir: cfg.pack ?? 'the built-in character' });
  }
}

if (parentPort) run(workerData as AvatarConfig);
