import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

/** Every broadcaster's own output directory, under the channel's live root. */
export const MEMBERS_DIR = '.members';
/** A member directory whose playlist has not changed for this long belongs to a dead broadcaster. */
const STALE_MEMBER_MS = 60_000;

/**
 * Point the channel's live view (`<live root>/<channel>`, a symlink) at the active broadcaster's
 * directory, atomically (rename over the old link); a real directory from an older version is
 * replaced. Directories of broadcasters that stopped writing are removed.
 */
export function pointLiveView(liveRoot: string, channel: string, memberDir: string, log: Logger): void {
  const link = path.join(liveRoot, channel);
  const tmp = `${link}.${process.pid}.link`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.relative(liveRoot, memberDir), tmp);
  try {
    if (!fs.lstatSync(link).isSymbolicLink()) fs.rmSync(link, { recursive: true, force: true });
  } catch {
    /* no live view yet */
  }
  fs.renameSync(tmp, link);
  const members = path.dirname(memberDir);
  for (const d of fs.readdirSync(members)) {
    const dir = path.join(members, d);
    if (dir === memberDir || !d.startsWith(`${channel}-`)) continue;
    let last: number;
    try {
      last = fs.statSync(path.join(dir, 'index.m3u8')).mtimeMs;
    } catch {
      last = fs.statSync(dir).mtimeMs;
    }
    if (Date.now() - last < STALE_MEMBER_MS) continue; // a standby's, still encoding
    fs.rmSync(dir, { recursive: true, force: true });
    log.info({ dir: d }, 'removed the output of a broadcaster that is gone');
  }
}
