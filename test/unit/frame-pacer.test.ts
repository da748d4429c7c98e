import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FramePacer, VideoFeed } from '../../src/broadcast/video-feed';
import { createLogger } from '../../src/logger';

describe("the encoder's frame socket", () => {
  it('lives in a fresh 0700 directory; those left by killed broadcasters are removed, live ones kept', () => {
    const gone = spawnSync('true').pid; // a process that has exited: its pid is free
    const stale = fs.mkdtempSync(path.join(os.tmpdir(), `idolcast-frames-${gone}-`));
    fs.writeFileSync(path.join(stale, 'frames.sock'), '');
    const live = fs.mkdtempSync(path.join(os.tmpdir(), `idolcast-frames-${process.ppid}-`));
    const format = { width: 16, height: 16, fps: 5 };
    const log = createLogger('test', 'silent');
    const pacer = new FramePacer(new VideoFeed('unused', format, log), Buffer.alloc(384), format, 1000, 0, log);
    try {
      const dir = path.dirname(pacer.socketPath);
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect(fs.existsSync(stale)).toBe(false);
      expect(fs.existsSync(live)).toBe(true);
      pacer.stop();
      expect(fs.existsSync(dir)).toBe(false);
    } finally {
      fs.rmSync(live, { recursive: true, force: true });
    }
  });
});
