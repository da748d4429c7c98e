import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SCENARIOS = ['kill-workers', 'redis-restart', 'tts-outage', 'twitch-reconnect', 'rtmp-down', 'flood', 'kill-broadcaster', 'starved-broadcaster'];

/**
 * The chaos runner's short version: the whole fleet on real parts (its own Redis with AOF,
 * nginx-rtmp, ffmpeg, espeak-ng; loopback Twitch and cloud TTS) through every failure, each cut
 * to seconds. Its own pass rule is checked here, scenario by scenario.
 */
describe('chaos (short): the fleet through eight failures, unattended', () => {
  it('loses nothing, speaks nothing twice, is never silent for more than 2 s, and recovers by itself', async () => {
    const runner = spawn(process.execPath, [path.resolve('dist-tools/scripts/chaos.js'), '--short'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    runner.stdout.on('data', (d: Buffer) => (out += d.toString()));
    runner.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => runner.on('exit', r));
    const results = out
      .split('\n')
      .filter((l) => l.startsWith('{"scenario"'))
      .map((l) => JSON.parse(l) as { scenario: string; lost: number; spokenTwice: number; longestSilenceMs: number; recoverMs: number | null; pass: boolean; sent: number; accepted: number });
    fs.mkdirSync('test-artifacts', { recursive: true });
    fs.writeFileSync('test-artifacts/chaos.json', `${JSON.stringify(results, null, 1)}\n`);
    if (results.length !== SCENARIOS.length) throw new Error(`chaos runner exited ${code}; stderr: ${err.slice(-3000)}`);
    expect(results.map((r) => r.scenario)).toEqual(SCENARIOS);
    for (const r of results) {
      expect({ scenario: r.scenario, spokenTwice: r.spokenTwice, recovered: r.recoverMs !== null, silent: r.longestSilenceMs <= 2000 }).toEqual({ scenario: r.scenario, spokenTwice: 0, recovered: true, silent: true });
      if (r.scenario !== 'redis-restart') expect({ scenario: r.scenario, lost: r.lost }).toEqual({ scenario: r.scenario, lost: 0 });
      expect(r.accepted).toBeGreaterThan(0);
    }
    expect(code).toBe(0);
  }, 480_000);
});
