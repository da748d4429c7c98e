import path from 'node:path';
import { DEFAULT_PACK_SOURCE } from '../avatar/default-pack';
import { packManifest } from '../avatar/pack';
import type { Manifest } from '../avatar/pack.schema';
import { currentEmote } from '../channel-state';
import type { Config } from '../config/schema';
import type { ProcessContext } from '../process';

/**
 * The channel's avatar pack as the overlay draws it: the configured folder's PNG layers, or the
 * built-in character's SVG sources (the very drawings the picture's layers are rendered from;
 * the browser draws them sharp at any size). Read on each request: a changed pack shows on the
 * next page load.
 */
function overlayPack(config: Config, channel: string): { dir: string; svg: boolean; manifest: Manifest } | undefined {
  const own = config.channels[channel]!.video.avatar.pack;
  const dir = own ? path.resolve(own) : DEFAULT_PACK_SOURCE;
  const manifest = packManifest(dir);
  return manifest && { dir, svg: !own, manifest };
}

/**
 * The file of layer `layer` of the channel's pack, or none: only an own layer id of the manifest
 * of a configured channel names a file, and the manifest's file names are plain names inside the
 * pack folder (src/avatar/pack.schema.ts), so no request can reach another file.
 */
export function overlayLayerFile(config: Config, channel: string, layer: string): string | undefined {
  if (!config.overlay.avatar.enabled || !Object.hasOwn(config.channels, channel)) return undefined;
  const pack = overlayPack(config, channel);
  if (!pack || !Object.hasOwn(pack.manifest.layers, layer)) return undefined;
  const file = pack.manifest.layers[layer]!.file;
  return path.join(pack.dir, pack.svg ? file.replace(/\.png$/, '.svg') : file);
}

/**
 * What the overlay page needs to draw a configured channel's avatar: the manifest's layering and
 * placement, each layer's address, where and how big on the page, and the expression the channel
 * shows now (later ones arrive as live events). None: the pack cannot be read.
 */
export async function overlayAvatarInfo(ctx: Pick<ProcessContext, 'config' | 'redis' | 'keys'>, channel: string) {
  const { config } = ctx;
  const pack = overlayPack(config, channel);
  if (!pack) return undefined;
  const m = pack.manifest;
  const emote = await currentEmote(ctx, channel).catch(() => undefined);
  const layers = Object.fromEntries(Object.entries(m.layers).map(([id, l]) => [id, { url: `/overlay/avatar/${channel}/${id}`, at: l.at, anchor: l.anchor }]));
  return {
    ...config.overlay.avatar,
    channel,
    canvas: m.canvas,
    anchors: m.anchors,
    breathing: m.breathing,
    base: m.base,
    front: m.front,
    eyes: m.eyes,
    mouth: { closed: m.mouth.closed, half: m.mouth.half, open: m.mouth.open },
    expressions: m.expressions,
    layers,
    expression: emote?.expression ?? 'neutral',
  };
}
