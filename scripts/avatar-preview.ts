import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDefaultPack } from '../src/avatar/default-pack';
import { checkPack, loadPack } from '../src/avatar/pack';
import { contactSheet } from '../src/avatar/preview';

/**
 * Checks an avatar pack and writes its contact sheet (every expression × mouth shapes, blink and
 * visemes). Usage: node dist/scripts/avatar-preview.js [PACK_DIR] [OUT.png]; without a folder, the
 * default character is rendered from its SVG sources first.
 */
function main(): void {
  const dir = process.argv[2] ?? ensureDefaultPack(path.join(os.tmpdir(), 'idolcast-avatar-default'));
  const out = process.argv[3] ?? 'avatar-preview.png';
  const check = checkPack(dir);
  if (!check.ok) {
    for (const p of check.problems) console.error(`avatar pack ${dir}: ${p}`);
    process.exitCode = 1;
    return;
  }
  fs.writeFileSync(out, contactSheet(loadPack(dir)));
  console.log(`wrote ${out}`);
}

main();
