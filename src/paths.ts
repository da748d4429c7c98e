import fs from 'node:fs';
import path from 'node:path';

/** The repository root (holds package.json), found from this file whether run from src/ or dist/. */
export const PROJECT_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('idolcast: cannot find the project root (package.json)');
    dir = up;
  }
  return dir;
})();

/** The compiled CLI entry, used by the supervisor and tests to start processes. */
export const CLI_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
