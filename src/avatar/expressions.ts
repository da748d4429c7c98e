import type { ChannelConfig } from '../config/schema';
import { DEFAULT_PACK_SOURCE } from './default-pack';
import { packExpressions } from './pack';

const known = new Map<string, string[]>();

/**
 * The expressions a channel's avatar offers (its pack's manifest, read once per folder), lower
 * case as chat types them; none when the channel has no avatar. What `!emote` may set.
 */
export function avatarExpressions(avatar: ChannelConfig['video']['avatar'] | undefined): string[] {
  if (!avatar?.enabled) return [];
  const dir = avatar.pack ?? DEFAULT_PACK_SOURCE;
  let names = known.get(dir);
  if (!names) {
    names = packExpressions(dir).filter((n) => n === n.toLowerCase());
    known.set(dir, names);
  }
  return names;
}
