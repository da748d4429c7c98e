import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { ensureDefaultPack } from '../../src/avatar/default-pack';
import { avatarExpressions, offersExpression } from '../../src/avatar/expressions';
import { avatarProblems, openLookOffThread } from '../../src/avatar/look';
import { AvatarPackError, checkPack, loadPack } from '../../src/avatar/pack';
import type { Manifest } from '../../src/avatar/pack.schema';
import { vtubeStudioSchema } from '../../src/config/vtubestudio.schema';

let tmp: string;
let defaultDir: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-avatar-pack-'));
  defaultDir = ensureDefaultPack(path.join(tmp, 'default'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writePng(file: string, width: number, height: number): void {
  const png = new PNG({ width, height });
  png.data.fill(200);
  fs.writeFileSync(file, PNG.sync.write(png));
}

/**
 * A small pack with the default character's manifest (so the same layer names) on a 40x50 canvas,
 * to break in one way per test; `edit` changes its manifest.
 */
function packCopy(name: string, edit: (m: Manifest) => void = () => undefined): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const m = JSON.parse(fs.readFileSync(path.join(defaultDir, 'manifest.json'), 'utf8')) as Manifest;
  m.canvas = { width: 40, height: 50 };
  m.anchors = { mouth: { x: 14, y: 30, width: 12, height: 8 }, eyes: { x: 8, y: 18, width: 24, height: 8 } };
  for (const l of Object.values(m.layers)) writePng(path.join(dir, l.file), 40, 50);
  edit(m);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}


describe('avatar packs', () => {
  it('the default character is rendered from its SVG sources into a pack that passes the check', () => {
    expect(checkPack(defaultDir)).toEqual({ ok: true, problems: [] });
    const pack = loadPack(defaultDir);
    expect([pack.width, pack.height]).toEqual([480, 600]);
    expect(Object.keys(pack.manifest.expressions)).toEqual(expect.arrayContaining(['neutral', 'happy', 'sad', 'angry', 'surprised', 'thinking']));
    const before = fs.statSync(path.join(defaultDir, 'base.png')).mtimeMs;
    ensureDefaultPack(defaultDir); // unchanged sources: not rendered again
    expect(fs.statSync(path.join(defaultDir, 'base.png')).mtimeMs).toBe(before);
  });

  it('names the missing layer file', () => {
    const dir = packCopy('missing');
    fs.rmSync(path.join(dir, 'mouth-open.png'));
    expect(checkPack(dir)).toEqual({ ok: false, problems: ['layer "mouth-open": file mouth-open.png is missing'] });
    expect(() => loadPack(dir)).toThrow(AvatarPackError);
  });

  it('names the layer of the wrong size, and one placed past the canvas', () => {
    const dir = packCopy('sizes', (m) => { m.layers.tear = { file: 'tear.png', at: { x: 30, y: 10 } }; });
    writePng(path.join(dir, 'brows-sad.png'), 100, 80);
    writePng(path.join(dir, 'tear.png'), 20, 20);
    fs.writeFileSync(path.join(dir, 'blush.png'), 'GIF89a, not a PNG');
    expect(checkPack(dir).problems).toEqual([
      'layer "brows-sad" (brows-sad.png) is 100x80, expected 40x50 (the canvas; or give it "at" or "anchor")',
      'layer "blush": blush.png is not a PNG',
      'layer "tear" (tear.png) is 20x20 at 30,10, which runs past the 40x50 canvas',
    ]);
  });

  it('names references to undeclared layers and missing standard expressions', () => {
    const dir = packCopy('refs', (m) => {
      m.mouth.half = 'mouth-halfway';
      delete m.expressions.thinking;
    });
    expect(checkPack(dir).problems).toEqual([
      'mouth.half names layer "mouth-halfway", which is not in layers',
      'expressions: the standard expression "thinking" is missing',
    ]);
  });

  it('refuses files outside the pack folder and a malformed manifest, by path', () => {
    const outside = packCopy('outside', (m) => { m.layers.base!.file = '../secret.png'; });
    expect(checkPack(outside).problems).toEqual(['layers.base.file: a .png file name inside the pack folder']);
    const broken = packCopy('broken');
    fs.writeFileSync(path.join(broken, 'manifest.json'), '{ "name": ');
    expect(checkPack(broken).problems[0]).toMatch(/^manifest\.json is not readable/);
    fs.rmSync(path.join(broken, 'manifest.json'));
    expect(checkPack(broken).problems).toEqual(['no manifest (manifest.json, manifest.yaml, manifest.yml) in the folder']);
  });

  it('places a small layer on its anchor and scales the pack', () => {
    const dir = packCopy('anchored', (m) => {
      m.layers['mouth-open'] = { file: 'small-mouth.png', anchor: 'mouth' };
      m.scale = 0.5;
    });
    writePng(path.join(dir, 'small-mouth.png'), 8, 4);
    const pack = loadPack(dir);
    expect([pack.width, pack.height]).toEqual([20, 25]);
    const mouth = pack.anchors.mouth;
    const sprite = pack.layers.get('mouth-open')!;
    expect(sprite).toMatchObject({ width: 4, height: 2 });
    expect(Math.abs(sprite.x + sprite.width / 2 - (mouth.x + mouth.width / 2))).toBeLessThanOrEqual(1);
    expect(Math.abs(sprite.y + sprite.height / 2 - (mouth.y + mouth.height / 2))).toBeLessThanOrEqual(1);
  });

  const avatar = (over: object) => ({ enabled: true, x: 0, y: 0, expressionResetMs: 60_000, vtubeStudio: vtubeStudioSchema.parse({}), ...over });

  it('checks a channel\'s pack where its broadcaster would draw it: the fit in the frame is a problem too', async () => {
    const dir = packCopy('fits');
    expect(avatarProblems(avatar({ pack: dir, x: 60 }), { width: 100, height: 60 })).toEqual([]);
    expect(avatarProblems(avatar({ pack: dir, x: 62 }), { width: 100, height: 60 })).toEqual(['the 40x50 avatar at 62,0 does not fit the 100x60 frame']);
    expect(avatarProblems(avatar({ pack: dir, enabled: false, x: 62 }), { width: 100, height: 60 })).toEqual([]);
    fs.rmSync(path.join(dir, 'tear.png'));
    expect(avatarProblems(avatar({ pack: dir }), { width: 100, height: 60 })).toEqual(['layer "tear": file tear.png is missing']);
    await expect(openLookOffThread(avatar({ pack: dir }), { width: 100, height: 60 })).rejects.toThrow('layer "tear": file tear.png is missing');
  });

  it('offers the expressions of the pack (own names only), re-read when its manifest changes and kept while it is broken', () => {
    const dir = packCopy('offers');
    const cfg = avatar({ pack: dir });
    expect(avatarExpressions(cfg)).toEqual(expect.arrayContaining(['neutral', 'happy', 'sad', 'joyful']));
    for (const name of ['sad', 'joyful']) expect(offersExpression(cfg, name)).toBe(true);
    for (const name of ['constructor', '__proto__', 'toString', 'dance']) expect(offersExpression(cfg, name)).toBe(false);
    expect(offersExpression({ ...cfg, enabled: false }, 'sad')).toBe(false);
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
    m.expressions.Wink = { overlays: [] };
    fs.writeFileSync(file, JSON.stringify(m));
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000)); // a new mtime whatever the clock's resolution
    expect(offersExpression(cfg, 'Wink')).toBe(true);
    expect(avatarExpressions(cfg)).not.toContain('Wink'); // chat types lower case
    fs.writeFileSync(file, '{ "name": ');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    expect(offersExpression(cfg, 'Wink')).toBe(true);
  });
});
