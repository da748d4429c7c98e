import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { PROJECT_ROOT } from '../paths';
import { manifestSchema } from './pack.schema';

/** The default character's vector sources (drawn for this project), one SVG per PNG layer. */
export const DEFAULT_PACK_SOURCE = path.join(PROJECT_ROOT, 'assets', 'avatar', 'default');

const STAMP = '.source-hash';

function sourceHash(src: string): string {
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(src).sort()) {
    if (f.endsWith('.svg') || f === 'manifest.json') h.update(f).update(fs.readFileSync(path.join(src, f)));
  }
  return h.digest('hex');
}

/**
 * Renders the default character's SVG layers to a PNG pack in `outDir` (the same format a streamer's
 * own pack uses), unless `outDir` already holds a rendering of these exact sources. Runs at build or
 * start; nothing is fetched. Returns `outDir`.
 */
export function ensureDefaultPack(outDir: string, src = DEFAULT_PACK_SOURCE): string {
  const hash = sourceHash(src);
  const stamp = path.join(outDir, STAMP);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return outDir;
  const manifestText = fs.readFileSync(path.join(src, 'manifest.json'), 'utf8');
  const manifest = manifestSchema.parse(JSON.parse(manifestText));
  const tmp = `${outDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const layer of Object.values(manifest.layers)) {
    const svg = fs.readFileSync(path.join(src, layer.file.replace(/\.png$/, '.svg')), 'utf8');
    const png = new Resvg(svg, { fitTo: { mode: 'width', value: manifest.canvas.width }, font: { loadSystemFonts: false } }).render().asPng();
    fs.writeFileSync(path.join(tmp, layer.file), png);
  }
  fs.writeFileSync(path.join(tmp, 'manifest.json'), manifestText);
  fs.writeFileSync(path.join(tmp, STAMP), hash);
  // Swap the whole folder at once so a running reader never sees half a pack.
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  fs.renameSync(tmp, outDir);
  return outDir;
}

/** The built-in character, rendered once per machine from the SVGs in the repo (nothing is fetched). */
export function builtInPackDir(): string {
  const dir = path.join(os.tmpdir(), `idolcast-avatar-default-${process.getuid?.() ?? 0}`);
  try {
    return ensureDefaultPack(dir);
  } catch {
    // Another process was swapping the same folder in at that moment: its rendering is as good.
    return ensureDefaultPack(dir);
  }
}
