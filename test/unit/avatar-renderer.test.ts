import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDefaultPack } from '../../src/avatar/default-pack';
import { loadPack, type AvatarPack } from '../../src/avatar/pack';
import type { Rect } from '../../src/avatar/pack.schema';
import { AvatarRenderer, type AvatarState } from '../../src/avatar/renderer';

let tmp: string;
let pack: AvatarPack;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-avatar-render-'));
  pack = loadPack(ensureDefaultPack(path.join(tmp, 'default')));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const still: AvatarState = { mouth: 0, eyes: 1, expression: 'neutral', breath: 0 };

/** Pixels that differ between two frames, inside and outside a box. */
function changed(a: Buffer, b: Buffer, width: number, box: Rect): { inside: number; outside: number } {
  let inside = 0, outside = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (a.readUInt32LE(i) === b.readUInt32LE(i)) continue;
    const x = (i / 4) % width, y = Math.floor(i / 4 / width);
    const isIn = x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
    if (isIn) inside++; else outside++;
  }
  return { inside, outside };
}

describe('the avatar renderer', () => {
  it('draws the character: an opaque body, a clear background corner', () => {
    const r = new AvatarRenderer(pack);
    const f = r.render(still);
    expect(f.length).toBe(r.width * r.height * 4);
    expect(f[3]).toBe(0); // top-left corner: nothing there
    expect(f[((r.height - 1) * r.width + r.width / 2) * 4 + 3]).toBe(255); // bottom middle: the dress
  });

  it('opens the mouth in the mouth region only, in steps closed → half → open', () => {
    const r = new AvatarRenderer(pack);
    const closed = r.render(still), half = r.render({ ...still, mouth: 0.3 }), open = r.render({ ...still, mouth: 0.9 });
    const box = r.anchors.mouth;
    for (const [a, b] of [[closed, half], [half, open], [closed, open]] as const) {
      const d = changed(a, b, r.width, box);
      expect(d.inside).toBeGreaterThan(100);
      expect(d.outside).toBe(0);
    }
    expect(r.render({ ...still, mouth: 'O' }).equals(open)).toBe(false); // a viseme has its own shape
  });

  it('closes the eyes for a blink, in the eyes region only', () => {
    const r = new AvatarRenderer(pack);
    const d = changed(r.render(still), r.render({ ...still, eyes: 0 }), r.width, r.anchors.eyes);
    expect(d.inside).toBeGreaterThan(500);
    expect(d.outside).toBe(0);
  });

  it('shows expressions, and neutral for a name the pack does not offer', () => {
    const r = new AvatarRenderer(pack);
    const neutral = r.render(still);
    for (const e of ['happy', 'sad', 'angry', 'surprised', 'thinking']) expect(r.render({ ...still, expression: e }).equals(neutral)).toBe(false);
    expect(r.render({ ...still, expression: 'constructor' }).equals(neutral)).toBe(true);
    expect(r.hasExpression('constructor')).toBe(false);
  });

  it('breathes by moving the character a few rows down and back', () => {
    const r = new AvatarRenderer(pack);
    const rest = r.render(still), inhaled = r.render({ ...still, breath: 0.5 });
    const bob = r.bobFor(0.5);
    expect(bob).toBe(3);
    const stride = r.width * 4;
    expect(inhaled.subarray(bob * stride).equals(rest.subarray(0, rest.length - bob * stride))).toBe(true);
  });

  it('serves identical states from the cache, and repeated mouth shapes from cached composites', () => {
    const r = new AvatarRenderer(pack);
    const first = r.render(still);
    expect(r.render({ ...still }) === first).toBe(true);
    expect(r.stats).toMatchObject({ frames: 2, frameHits: 1, compositeMisses: 1 });
    r.render({ ...still, mouth: 0.9 });
    r.render({ ...still, mouth: 0.95, breath: 0.5 }); // same shape, another breathing offset
    expect(r.stats).toMatchObject({ compositeMisses: 2, compositeHits: 1 });
    r.setPack(pack); // a reload starts afresh
    expect(r.render(still) === first).toBe(false);
  });
});
