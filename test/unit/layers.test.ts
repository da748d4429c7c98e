import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The layers of idolcast, lowest first (README, "How the parts fit"). A file may import from its
 * own layer and the layers below it, never from one above.
 */
const LAYERS = ['core', 'catalog', 'config', 'domain', 'workers', 'runtime', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

const ROOT = path.resolve(__dirname, '..', '..');
/** Files of `src/` with no idolcast dependency but each other: Redis, logging, metrics, the process lifecycle. */
const CORE = ['redis', 'logger', 'paths', 'metrics', 'time', 'ports', 'lifecycle', 'fleet', 'pubsub', 'shared-breaker'].map((f) => `src/${f}.ts`);
/** The process entry points: each puts a fleet member together from the layers below. */
const RUNTIME = ['src/worker-runtime.ts', 'src/broadcast/broadcaster.ts', 'src/chat/ingest.ts'];

function layerOf(file: string): Layer {
  if (file === 'src/cli.ts') return 'cli';
  if (RUNTIME.includes(file)) return 'runtime';
  if (file.startsWith('workers/')) return 'workers';
  if (file.startsWith('queues/')) return 'catalog';
  if (file.startsWith('src/config/')) return 'config';
  if (CORE.includes(file)) return 'core';
  return 'domain';
}

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** Every idolcast file a file imports (static, type-only, re-exports and dynamic imports alike). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => {
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
      return fs.existsSync(path.join(ROOT, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`;
    });
}

describe('layers', () => {
  const files = ['src', 'queues', 'workers'].flatMap(sources);

  it('every import points down (or across its own layer), never up', () => {
    const wrong = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => LAYERS.indexOf(layerOf(target)) > LAYERS.indexOf(layerOf(file)))
        .map((target) => `${file} (${layerOf(file)}) imports ${target} (${layerOf(target)})`),
    );
    expect(wrong).toEqual([]);
  });

  it('finds the imports it judges (the check is not vacuous)', () => {
    expect(importsOf('src/broadcast/broadcaster.ts')).toEqual(expect.arrayContaining(['workers/index.ts', 'queues/live-events.ts', 'src/process.ts']));
    expect(files.length).toBeGreaterThan(50);
  });
});
