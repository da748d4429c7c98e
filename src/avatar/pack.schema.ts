import { z } from 'zod';

/** The expressions every pack must offer; a pack may add more. */
export const STANDARD_EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'surprised', 'thinking'] as const;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/, 'a name of letters, digits, - and _ (at most 48)');
const px = z.number().int().min(0).max(4096);
const rect = z.object({ x: px, y: px, width: px.min(1), height: px.min(1) }).strict();

const layer = z.object({
  /** PNG file inside the pack folder (no sub-paths: a pack cannot point outside its folder). */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.png$/, 'a .png file name inside the pack folder'),
  /** Top-left position on the canvas; without it the layer must be exactly the canvas size. */
  at: z.object({ x: px, y: px }).strict().optional(),
  /** Alternatively centre the layer on an anchor (e.g. a small mouth picture on "mouth"). */
  anchor: z.enum(['mouth', 'eyes']).optional(),
}).strict();

const expression = z.object({
  brows: name.optional(),
  /** Replaces the open eyes while this expression shows (e.g. smiling eyes). */
  eyesOpen: name.optional(),
  /** The mouth drawn when silent (smile, frown…); speech still uses the mouth shapes. */
  mouthClosed: name.optional(),
  overlays: z.array(name).max(8).default([]),
}).strict();

export const manifestSchema = z.object({
  name: z.string().min(1).max(80),
  canvas: z.object({ width: px.min(16), height: px.min(16) }).strict(),
  /** Output size = canvas × scale (layers are resampled once at load). */
  scale: z.number().min(0.1).max(4).default(1),
  /** Mouth and eyes boxes on the canvas: placement anchors, and where lip-sync probes look. */
  anchors: z.object({ mouth: rect, eyes: rect }).strict(),
  breathing: z.object({ amplitudePx: z.number().min(0).max(20).default(3), periodMs: z.number().int().min(500).max(20000).default(4000) }).strict().default({ amplitudePx: 3, periodMs: 4000 }),
  layers: z.record(name, layer),
  /** Drawn first, under the face parts (body, back hair, face). */
  base: z.array(name).min(1).max(8),
  /** Drawn over eyes and mouth (fringe), under brows and overlays. */
  front: z.array(name).max(8).default([]),
  eyes: z.object({ open: name, half: name, closed: name }).strict(),
  mouth: z.object({ closed: name, half: name, open: name, visemes: z.record(name, name).default({}) }).strict(),
  expressions: z.record(name, expression),
}).strict();

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestLayer = z.infer<typeof layer>;
export type Rect = z.infer<typeof rect>;

/** Every layer id the manifest refers to, with the path it was named at (for errors). */
export function layerReferences(m: Manifest): Array<{ path: string; id: string }> {
  const refs: Array<{ path: string; id: string }> = [];
  m.base.forEach((id, i) => refs.push({ path: `base[${i}]`, id }));
  m.front.forEach((id, i) => refs.push({ path: `front[${i}]`, id }));
  for (const k of ['open', 'half', 'closed'] as const) refs.push({ path: `eyes.${k}`, id: m.eyes[k] });
  for (const k of ['closed', 'half', 'open'] as const) refs.push({ path: `mouth.${k}`, id: m.mouth[k] });
  for (const [v, id] of Object.entries(m.mouth.visemes)) refs.push({ path: `mouth.visemes.${v}`, id });
  for (const [e, x] of Object.entries(m.expressions)) {
    for (const k of ['brows', 'eyesOpen', 'mouthClosed'] as const) {
      const id = x[k];
      if (id !== undefined) refs.push({ path: `expressions.${e}.${k}`, id });
    }
    x.overlays.forEach((id, i) => refs.push({ path: `expressions.${e}.overlays[${i}]`, id }));
  }
  return refs;
}
