import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from '../redis';
import { setEmote } from '../channel-state';
import { configured } from '../config/names';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Keyspace } from '../redis';
import { DEFAULT_PACK_SOURCE } from './default-pack';
import type { AvatarConfig } from './look';
import { manifestPath, packExpressions } from './pack';
import { STANDARD_EXPRESSIONS } from './pack.schema';

/** Per pack folder (one per configured channel at most): the names its manifest offered, and the manifest's mtime then. */
const known = new Map<string, { mtimeMs: number; names: string[] }>();

/** The folder a channel's avatar is read from (the built-in character's sources when none is configured). */
function packSource(avatar: AvatarConfig): string {
  return avatar.pack ? path.resolve(avatar.pack) : DEFAULT_PACK_SOURCE;
}

/**
 * Every expression a channel's pack offers, read again when its manifest changes (a pack edited
 * for a reload). A manifest that is missing or broken keeps the names it last offered, as the
 * broadcaster keeps the last good avatar.
 */
function offered(avatar: AvatarConfig | undefined, onOverlay = false): string[] {
  if (!avatar || !(avatar.enabled || onOverlay)) return [];
  const dir = packSource(avatar);
  const file = manifestPath(dir);
  const mtimeMs = (file && fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs) || 0;
  const hit = known.get(dir);
  if (hit?.mtimeMs === mtimeMs) return hit.names;
  const names = packExpressions(dir) ?? hit?.names ?? [];
  known.set(dir, { mtimeMs, names });
  return names;
}

/** What VTube Studio shows when it is on: the standard expressions and those its config maps. */
function vtsExpressions(avatar: AvatarConfig): string[] {
  return avatar.vtubeStudio.enabled ? [...STANDARD_EXPRESSIONS, ...Object.keys(avatar.vtubeStudio.expressions)] : [];
}

/**
 * The expressions a channel's avatar offers, lower case as chat types them: the built-in avatar's
 * pack's when it is on, and with VTube Studio on the standard ones and those its config maps; none
 * when the channel has neither. What `!emote` may set. The overlay's avatar (`onOverlay`) shows
 * the channel's pack too.
 */
export function avatarExpressions(avatar: AvatarConfig | undefined, onOverlay = false): string[] {
  if (!avatar) return [];
  return [...new Set([...offered(avatar, onOverlay).filter((n) => n === n.toLowerCase()), ...vtsExpressions(avatar)])];
}

/** Whether the channel's avatar offers `name` exactly (a scene job, a programme step). */
export function offersExpression(avatar: AvatarConfig | undefined, name: string, onOverlay = false): boolean {
  return !!avatar && (offered(avatar, onOverlay).includes(name) || vtsExpressions(avatar).includes(name));
}

interface ExpressionDeps {
  redis: Redis;
  keys: Keyspace;
  config: Pick<Config, 'channels' | 'overlay'>;
  log: Logger;
}

/**
 * A job's expression for a channel's avatar (a scene job, a programme step): kept in Redis and told
 * to the broadcaster, as `!emote` does. A name the channel's pack does not offer (or a channel
 * without an avatar) is a logged filter decision, never an error: retrying would not help.
 */
export async function applyExpression(deps: ExpressionDeps, channel: string, want: { expression: string; holdMs?: number }, by: string): Promise<string | undefined> {
  const avatar = configured(deps.config.channels, channel)?.video.avatar;
  if (!avatar || !offersExpression(avatar, want.expression, deps.config.overlay.avatar.enabled)) {
    deps.log.warn({ channel, expression: want.expression, by, reason: avatar?.enabled ? 'not in the pack' : 'no avatar' }, 'avatar expression dropped');
    return undefined;
  }
  await setEmote(deps, channel, want.expression, want.holdMs ?? avatar.expressionResetMs, by);
  return want.expression;
}
