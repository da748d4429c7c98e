import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const MAX_FUNCTION_LINES = 80;

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** Every function, method, arrow function and accessor with a body longer than the limit, by file and first line. */
function longFunctions(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const lines = sf.getLineAndCharacterOfPosition(node.end).line - first + 1;
      if (lines > MAX_FUNCTION_LINES) found.push(`${file}:${first + 1} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('code shape', () => {
  it(`no function in src/ or workers/ is over ${MAX_FUNCTION_LINES} lines`, () => {
    const files = ['src', 'workers'].flatMap(sources);
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap(longFunctions)).toEqual([]);
  });

  it('only the speech store knows where speech audio lives in Redis', () => {
    const files = ['src', 'workers', 'queues'].flatMap(sources).filter((f) => f !== 'src/speech-store.ts' && f !== 'src/redis.ts');
    expect(files.filter((f) => /\.speech(Raw|Pcm)\(/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')))).toEqual([]);
  });
});
