import type { ChannelConfig } from '../config/schema';
import { DEFAULT_PACK_SOURCE } from './default-pack';
import { packExpressions } from './pack';
import { STANDARD_EXPRESSIONS } from './pack.schema';

const known = new Map<string, string[]>();

/** The built-in avatar's pack's expressions (its manifest, read once per folder), lower case as chat types them. */
function packNames(avatar: ChannelConfig['video']['avatar']): string[] {
  const dir = avatar.pack ?? DEFAULT_PACK_SOURCE;
  let names = known.get(dir);
  if (!names) {
    names = packExpressions(dir).filter((n) => n === n.toLowerCase());
    known.set(dir, names);
  }
  return names;
}

/**
 * The expressions a channel's avatar offers, what `!emote` may set: the built-in avatar's pack's
 * when it is on, and with VTube Studio on the standard ones and those its config maps; none when
 * the channel has neither. The overlay's avatar (`onOverlay`) shows the channel's pack too.
 */
export function avatarExpressions(avatar: ChannelConfig['video']['avatar'] | undefined, onOverlay = false): string[] {
  if (!avatar) return [];
  const names = new Set(avatar.enabled || onOverlay ? packNames(avatar) : []);
  if (avatar.vtubeStudio.enabled) for (const n of [...STANDARD_EXPRESSIONS, ...Object.keys(avatar.vtubeStudio.expressions)]) names.add(n);
  return [...names];
}
