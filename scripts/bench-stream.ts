/**
 * The bench's live stream, shared by its broadcast, AI and avatar sections: a real nginx-rtmp
 * from testkit standing in for a platform's ingest, the fleet with a broadcaster pushing channel
 * `main` to it, and an RTMP viewer pulling the stream back (what a platform viewer gets, minus
 * the internet). Each section writes its own config file next to the bench's and starts the
 * processes with it, so the bench's own config is never rewritten.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { sleep } from '../src/time';
import { NginxRtmp } from '../testkit/nginx-rtmp';
import { cpuSeconds } from '../testkit/procfs';
import { RtmpViewer } from '../testkit/rtmp-pull';
import type { ReplicaBench } from './bench-replicas';

const STREAM_KEY = 'bench_stream_key';

export interface StreamOptions {
  /** Name of the section's config file (`<name>.yaml` in the bench's directory). */
  name: string;
  /** Fleet processes besides the broadcaster, as CLI arguments (e.g. `['worker', 'tts']`). */
  workers: string[][];
  /** Channel `main`'s `video` section (the schema's defaults when absent). */
  video?: Record<string, unknown>;
  /** Top-level sections added to (or replacing those of) the bench's config. */
  extra?: Record<string, unknown>;
}

export interface LiveStream {
  /** The config file every process of the stream was started with. */
  readonly configPath: string;
  readonly broadcaster: ChildProcess;
  readonly viewer: RtmpViewer;
  /** `rtmp://…/live/<key>`: for more readers of the same stream. */
  readonly url: string;
  /** Viewer, processes and nginx down (the section's figures are taken by then). */
  stop(): Promise<void>;
}

/** The bench's config with channel `main` pushing to `url` and no background bed (silence is silent, so speech is found by its energy). */
function writeStreamConfig(b: ReplicaBench, o: StreamOptions, url: string): string {
  const base = YAML.parse(fs.readFileSync(b.configPath, 'utf8')) as Record<string, unknown>;
  const main = { ...(o.video && { video: o.video }), live: { dir: path.join(b.dir, `live-${o.name}`) }, destinations: { local: { url, keyEnv: 'BENCH_STREAM_KEY' } } };
  const file = path.join(b.dir, `${o.name}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ ...base, channels: { main }, playout: { bed: { source: 'none' } }, ...o.extra }));
  return file;
}

/** Starts nginx-rtmp, the workers and the broadcaster, and returns once the viewer has received 3 s of the stream. */
export async function startStream(b: ReplicaBench, o: StreamOptions): Promise<LiveStream> {
  const nginx = new NginxRtmp(path.join(b.dir, `nginx-${o.name}`));
  await nginx.start();
  const configPath = writeStreamConfig(b, o, nginx.url);
  const env = { IDOLCAST_CONFIG: configPath };
  for (const args of o.workers) b.spawn(args, env);
  const broadcaster = b.spawn(['broadcast'], { ...env, BENCH_STREAM_KEY: STREAM_KEY });
  const url = `${nginx.url}/${STREAM_KEY}`;
  const viewer = new RtmpViewer(url);
  const stop = async () => {
    viewer.stop();
    await b.stopChildren();
    await nginx.stop();
  };
  for (let i = 0; i < 600 && viewer.seconds < 3; i++) await sleep(100);
  if (viewer.seconds < 3) {
    await stop();
    throw new Error(`${o.name}: the stream never reached nginx-rtmp`);
  }
  return { configPath, broadcaster, viewer, url, stop };
}

/** CPU seconds per wall second (1.0 = one core) of `pid` and its child processes while `work` runs. */
export async function cpuShareDuring(pid: number, work: () => Promise<unknown>): Promise<number> {
  const from = { cpu: cpuSeconds(pid), at: Date.now() };
  await work();
  return Math.round(((cpuSeconds(pid) - from.cpu) / ((Date.now() - from.at) / 1000)) * 100) / 100;
}

/** A line sent: when, and what to do once it is heard (given when). */
interface Sent {
  sentAt: number;
  heard?: (heardAt: number) => Promise<void>;
}

/** Silence heard in a row that means a line has ended and the playout is idle (longer than the pauses inside a line). */
const QUIET_MS = 600;

/**
 * Wait (at most `maxMs`) until the viewer has received `QUIET_MS` of silence in a row: the line
 * before has ended. A fixed wait would not do: a line longer than it would still be on air when
 * the next is sent, and that one would wait for it and count queueing as latency.
 */
async function untilQuiet(viewer: RtmpViewer, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    await sleep(50);
    const from = Date.now() - QUIET_MS;
    const flowing = (viewer.arrivals.at(-1)?.wall ?? 0) >= Date.now() - 200;
    if (flowing && viewer.arrivals.some((a) => a.wall <= from) && viewer.heardAfter(from) === undefined) return;
  }
}

/**
 * Chat → audible, one line at a time: `send(i)` sends line i and returns when it was sent (wall
 * ms); the first sound the viewer receives after that is the line heard (the stream is silent
 * between lines). Waits up to `timeoutMs` for it, then until the line has ended (`QUIET_MS` of
 * silence heard, at most `settleMs`) and a little more for the playout to go idle before the next.
 * The latencies of the lines heard, in ms.
 */
export async function audibleLatencies(viewer: RtmpViewer, lines: number, send: (i: number) => Promise<number | Sent>, opts: { timeoutMs: number; settleMs: number }): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < lines; i++) {
    const sent = await send(i);
    const { sentAt, heard: onHeard } = typeof sent === 'number' ? { sentAt: sent, heard: undefined } : sent;
    let heard: number | undefined;
    while (heard === undefined && Date.now() - sentAt < opts.timeoutMs) {
      await sleep(10);
      heard = viewer.heardAfter(sentAt);
    }
    if (heard !== undefined) {
      latencies.push(heard - sentAt);
      await onHeard?.(heard);
    }
    await untilQuiet(viewer, opts.settleMs);
    await sleep(200); // the broadcaster's encoder slack and its next pick-up, past the line's end as heard
    viewer.trim(Date.now() - 2000); // a long run keeps the viewer's memory bounded
  }
  return latencies;
}
