import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import YAML from 'yaml';
import { layerReferences, manifestSchema, STANDARD_EXPRESSIONS, type Manifest, type ManifestLayer, type Rect } from './pack.schema';
import { premultiply, scaleSprite, trim, type Sprite } from './pixels';

/** A pack ready to render: every layer decoded, premultiplied, placed, scaled and trimmed. */
export interface AvatarPack {
  dir: string;
  manifest: Manifest;
  /** Output size (canvas × scale). */
  width: number;
  height: number;
  /** Anchors in output pixels. */
  anchors: { mouth: Rect; eyes: Rect };
  layers: Map<string, Sprite>;
}

/** The pack's problems, each naming the manifest path or the layer and file at fault. */
export class AvatarPackError extends Error {
  constructor(readonly dir: string, readonly problems: string[]) {
    super(`avatar pack ${dir}: ${problems.join('; ')}`);
    this.name = 'AvatarPackError';
  }
}

const MANIFESTS = ['manifest.json', 'manifest.yaml', 'manifest.yml'];

/** The manifest file of a pack folder, if it has one. */
export function manifestPath(dir: string): string | undefined {
  return MANIFESTS.map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
}

function readManifest(dir: string, problems: string[]): Manifest | undefined {
  const file = manifestPath(dir);
  if (!file) { problems.push(`no manifest (${MANIFESTS.join(', ')}) in the folder`); return undefined; }
  let raw: unknown;
  try {
    const text = fs.readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    problems.push(`${path.basename(file)} is not readable: ${(err as Error).message}`);
    return undefined;
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`${i.path.join('.') || '(root)'}: ${i.message}`);
    return undefined;
  }
  return parsed.data;
}

function checkReferences(m: Manifest, problems: string[]): void {
  for (const { path: at, id } of layerReferences(m)) {
    if (!Object.hasOwn(m.layers, id)) problems.push(`${at} names layer "${id}", which is not in layers`);
  }
  for (const e of STANDARD_EXPRESSIONS) {
    if (!Object.hasOwn(m.expressions, e)) problems.push(`expressions: the standard expression "${e}" is missing`);
  }
}

function placement(m: Manifest, id: string, l: ManifestLayer, w: number, h: number, problems: string[]): { x: number; y: number } | undefined {
  const { width: cw, height: ch } = m.canvas;
  const what = `layer "${id}" (${l.file})`;
  if (!l.at && !l.anchor) {
    if (w === cw && h === ch) return { x: 0, y: 0 };
    problems.push(`${what} is ${w}x${h}, expected ${cw}x${ch} (the canvas; or give it "at" or "anchor")`);
    return undefined;
  }
  const a = l.anchor ? m.anchors[l.anchor] : undefined;
  const x = l.at ? l.at.x : Math.round(a!.x + a!.width / 2 - w / 2);
  const y = l.at ? l.at.y : Math.round(a!.y + a!.height / 2 - h / 2);
  if (x < 0 || y < 0 || x + w > cw || y + h > ch) {
    problems.push(`${what} is ${w}x${h} at ${x},${y}, which runs past the ${cw}x${ch} canvas`);
    return undefined;
  }
  return { x, y };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's header (IHDR is always the first chunk). */
function pngSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length < 24 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function loadLayer(dir: string, m: Manifest, id: string, l: ManifestLayer, problems: string[]): Sprite | undefined {
  const file = path.join(dir, l.file);
  if (!fs.existsSync(file)) { problems.push(`layer "${id}": file ${l.file} is missing`); return undefined; }
  const bytes = fs.readFileSync(file);
  const size = pngSize(bytes);
  if (!size) { problems.push(`layer "${id}": ${l.file} is not a PNG`); return undefined; }
  // Placed (and so size-checked) before decoding: a huge picture is refused without inflating it.
  const at = placement(m, id, l, size.width, size.height, problems);
  if (!at) return undefined;
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (err) {
    problems.push(`layer "${id}": ${l.file} is not a readable PNG (${(err as Error).message})`);
    return undefined;
  }
  const data = premultiply(png.data);
  return scaleSprite(trim(at.x, at.y, png.width, png.height, data), m.scale);
}

function scaleRect(r: Rect, s: number): Rect {
  return { x: Math.round(r.x * s), y: Math.round(r.y * s), width: Math.max(1, Math.round(r.width * s)), height: Math.max(1, Math.round(r.height * s)) };
}

/** Loads and checks a pack folder; throws AvatarPackError listing every problem found. */
export function loadPack(dir: string, scale?: number): AvatarPack {
  const problems: string[] = [];
  const manifest = readManifest(dir, problems);
  if (!manifest) throw new AvatarPackError(dir, problems);
  if (scale !== undefined) manifest.scale = scale; // the channel's own size for this pack
  checkReferences(manifest, problems);
  const layers = new Map<string, Sprite>();
  for (const [id, l] of Object.entries(manifest.layers)) {
    const s = loadLayer(dir, manifest, id, l, problems);
    if (s) layers.set(id, s);
  }
  if (problems.length > 0) throw new AvatarPackError(dir, problems);
  const s = manifest.scale;
  return {
    dir, manifest, layers,
    width: Math.round(manifest.canvas.width * s), height: Math.round(manifest.canvas.height * s),
    anchors: { mouth: scaleRect(manifest.anchors.mouth, s), eyes: scaleRect(manifest.anchors.eyes, s) },
  };
}

/** A pack's manifest, checked against the schema; none if missing or unreadable. */
export function packManifest(dir: string): Manifest | undefined {
  return readManifest(dir, []);
}

/** The expression names a pack's manifest offers; undefined when the manifest is missing or broken. */
export function packExpressions(dir: string): string[] | undefined {
  const m = packManifest(dir);
  return m && Object.keys(m.expressions);
}

/** For `idolcast config check`: the pack's problems, or none. Never throws. */
export function checkPack(dir: string): { ok: boolean; problems: string[] } {
  try {
    loadPack(dir);
    return { ok: true, problems: [] };
  } catch (err) {
    return { ok: false, problems: err instanceof AvatarPackError ? err.problems : [(err as Error).message] };
  }
}
