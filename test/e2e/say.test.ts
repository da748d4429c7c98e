import path from 'node:path';
import { TestFleet, runCli, eventually } from '../helpers/fleet';
import { decodeLiveHls, windowLevels } from '../helpers/hls';
import fs from 'node:fs';

describe('say → speech on the live view (real Redis, espeak-ng, ffmpeg)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('the decoded stream carries the spoken line with speech energy and a plausible duration, silence around it', async () => {
    fleet = new TestFleet();
    const procs = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await Promise.all([procs[0]!.waitForLog('worker ready'), procs[1]!.waitForLog('worker ready'), procs[2]!.waitForLog('encoder started')]);
    const liveDir = path.join(fleet.dir, 'live', 'main');
    // Let the stream run a little first: the line must land inside a continuous stream.
    await eventually(async () => (fs.existsSync(path.join(liveDir, 'seg-2.ts')) ? true : undefined), 'the live view to start', 20000);

    const text = 'Hello everyone, this is idolcast speaking live from the test suite.';
    const said = await runCli(['say', '--wait', text], fleet.env(), 60000);
    expect(said.code).toBe(0);
    const aired = JSON.parse(said.stdout) as { startAt: number; endAt: number };
    const airedMs = aired.endAt - aired.startAt;
    // espeak-ng at 165 words per minute: 11 words take roughly 3–5 s.
    expect(airedMs).toBeGreaterThan(2500);
    expect(airedMs).toBeLessThan(7000);

    // Wait until the segment after the line's end is written, then decode what viewers get.
    const last = await eventually(async () => {
      const m = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').match(/#EXT-X-PROGRAM-DATE-TIME:(\S+)\s+seg-\d+\.ts\s*$/);
      return m && Date.parse(m[1]!) > aired.endAt + 1500 ? true : undefined;
    }, 'the live view to pass the end of the line', 20000);
    expect(last).toBe(true);
    const pcm = await decodeLiveHls(liveDir, fleet.dir);
    const levels = windowLevels(pcm, 16000, 50);
    const loud = levels.map((l, i) => (l > 0.02 ? i : -1)).filter((i) => i >= 0);
    expect(loud.length).toBeGreaterThan(0);
    const speechMs = (loud[loud.length - 1]! - loud[0]! + 1) * 50;
    // The heard speech spans most of the aired line (espeak pads a little silence at both ends).
    expect(speechMs).toBeGreaterThan(airedMs * 0.6);
    expect(speechMs).toBeLessThan(airedMs + 300);
    const mean = loud.reduce((s, i) => s + levels[i]!, 0) / loud.length;
    expect(mean).toBeGreaterThan(0.05);
    // Before and after the line the stream goes on, silent.
    expect(Math.max(...levels.slice(0, Math.max(0, loud[0]! - 2)))).toBeLessThan(0.001);
    expect(levels.length - loud[loud.length - 1]!).toBeGreaterThan(10);
    expect(procs.every((p) => p.child.exitCode === null)).toBe(true);
  });
});
