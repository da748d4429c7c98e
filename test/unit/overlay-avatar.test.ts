import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_PACK_SOURCE } from '../../src/avatar/default-pack';
import { parseConfig } from '../../src/config/load';
import { overlayLayerFile } from '../../src/control/overlay-avatar';

const config = (overlay: boolean, pack?: string) =>
  parseConfig(YAML.stringify({ overlay: { avatar: { enabled: overlay } }, channels: { main: { video: { avatar: pack ? { pack } : {} } } } }), 'test.yaml');

const HOSTILE = ['..', '../manifest', '..%2f..%2fpackage.json', '%2e%2e', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'base.svg', 'manifest.json', '', 'BASE'];

describe('the overlay\'s avatar layers: only own layer ids of the configured pack name a file', () => {
  it('the built-in character is served from its SVG sources, by layer id', () => {
    expect(overlayLayerFile(config(true), 'main', 'mouth-open')).toBe(path.join(DEFAULT_PACK_SOURCE, 'mouth-open.svg'));
    for (const name of HOSTILE) expect([name, overlayLayerFile(config(true), 'main', name)]).toEqual([name, undefined]);
  });

  it('a configured pack is served from its own folder (PNG layers), and nothing when the overlay avatar is off or the channel is not configured', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-pack-'));
    try {
      fs.copyFileSync(path.join(DEFAULT_PACK_SOURCE, 'manifest.json'), path.join(dir, 'manifest.json'));
      expect(overlayLayerFile(config(true, dir), 'main', 'base')).toBe(path.join(dir, 'base.png'));
      for (const name of HOSTILE) expect([name, overlayLayerFile(config(true, dir), 'main', name)]).toEqual([name, undefined]);
      expect(overlayLayerFile(config(false, dir), 'main', 'base')).toBeUndefined();
      for (const channel of ['__proto__', 'other', '..']) expect(overlayLayerFile(config(true, dir), channel, 'base')).toBeUndefined();
      // A folder without a readable manifest serves nothing.
      fs.writeFileSync(path.join(dir, 'manifest.json'), '{ not json');
      expect(overlayLayerFile(config(true, dir), 'main', 'base')).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
