import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import { Queues, registry, type QueueKey } from '../queues/registry';
import { LOCAL_ENGINE } from '../src/config/schema';
import { CLI_ENTRY } from '../src/paths';
import { channelEventSchema } from '../queues/live-events';
import { parsePubSub } from '../src/pubsub';
import { clusterPrefix, createRedis, keyspace, type Keyspace, type Redis, type RedisTarget } from '../src/redis';
import { startRedisServer, type LocalRedis } from '../src/supervisor/redis-server';
import { FAKE_KEY, FakeTts } from '../testkit/fake-tts';
import { FakeLlm } from '../testkit/fake-llm';
import { FakeTwitch } from '../testkit/fake-twitch';
import { aiHostConfig } from './harness-ai';
import { NginxRtmp } from '../testkit/nginx-rtmp';
import { descendantsOf, listProcesses, processGroupOf, type ProcessInfo } from '../testkit/procfs';
import { freeLoopbackPort } from '../src/ports';
import { RtmpViewer } from '../testkit/rtmp-pull';
import { sleep } from '../src/time';

/** One "machine" of the fleet: its own directory, ports and `idolcast up` process group. */
export interface Host {
  name: string;
  dir: string;
  up: ChildProcess;
}

/**
 * The whole fleet on this machine for chaos runs and soaks: its own redis-server (AOF on), a
 * local nginx-rtmp as the destination, loopback stand-ins for Twitch chat and one cloud TTS
 * provider, and `idolcast up` supervising everything else. It drives chat through the Twitch
 * stand-in and keeps the books: every message's decision (from the ingest log), every line that
 * went on air (from the channel's events), what was dropped and why, and what the stream carried
 * (an RTMP viewer on nginx). Loopback only.
 */
export class LocalFleet {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-harness-'));
  /** The key prefix (hash-tagged on a Redis Cluster, as the fleet's config makes it). */
  readonly prefix: string;
  readonly keys: Keyspace;
  readonly twitch = new FakeTwitch();
  readonly tts = new FakeTts();
  readonly nginx = new NginxRtmp(path.join(this.dir, 'nginx'));
  readonly channel = 'idolchat';
  private readonly streamKey = `harness_${randomBytes(4).toString('hex')}`;
  redisPort = 0;
  private localRedis?: LocalRedis;
  redis!: Redis;
  queues!: Queues;
  private events!: Redis;
  viewer?: RtmpViewer;
  /** Decision per chat message id (the last one logged: a redelivered duplicate keeps the first). */
  readonly decisions = new Map<string, { decision: string; reason: string }>();
  /** Airings per utterance id: on-air starts less those whose end says they were interrupted. */
  readonly aired = new Map<string, number>();
  /**
   * Airings per utterance id as the broadcasters log them (`on air`: the audio went out to the
   * pushers with the lease held, and the job completed). The on-air start event is published on
   * the live view's clock, about 2 s later: a host killed meanwhile takes that event with it,
   * though the destination already carried the line, so the books take the larger of the two.
   */
  readonly airedLogged = new Map<string, number>();
  /** When each utterance first went on air (its on-air start on the stream's clock). */
  readonly airedAt = new Map<string, number>();
  /** Lines dropped before air, with why (stale, cleared, expired). */
  readonly dropped = new Map<string, string>();
  /** Chat message id → wall time it was sent. */
  readonly sent = new Map<string, number>();
  private readonly logWatchers: ((line: Record<string, unknown>) => void)[] = [];
  private seq = 0;
  private interrupted = 0;

  get redisUrl(): string {
    return this.opts.cluster ? '' : `redis://127.0.0.1:${this.redisPort}`;
  }

  get streamUrl(): string {
    return `${this.nginx.url}/${this.streamKey}`;
  }

  /** One `idolcast up` per host; `hosts` > 1 runs the fleet as that many machines sharing Redis. */
  readonly hosts: Host[] = [];

  /** The loopback model provider and moderator, when the fleet runs with AI replies (`ai: true`). */
  readonly llm?: FakeLlm;

  /** `cluster`: the fleet runs on that Redis Cluster (`host:port` of its nodes) instead of a redis-server of its own; `config`: top-level sections replaced. */
  constructor(private readonly opts: { standbys?: number; hosts?: number; ai?: boolean; cluster?: string[]; config?: Record<string, unknown> } = {}) {
    const prefix = `h${randomBytes(3).toString('hex')}`;
    this.prefix = opts.cluster ? clusterPrefix(prefix) : prefix;
    this.keys = keyspace(this.prefix);
    if (opts.ai) this.llm = new FakeLlm();
  }

  async start(): Promise<void> {
    await Promise.all([this.twitch.ready, this.tts.ready, this.nginx.start(), this.llm?.ready]);
    if (!this.opts.cluster) {
      this.redisPort = await freeLoopbackPort();
      await this.startRedis();
    }
    const target: RedisTarget = { url: this.redisUrl, cluster: this.opts.cluster };
    this.redis = createRedis(target);
    this.queues = new Queues(this.redis, this.prefix);
    this.events = createRedis(target);
    this.events.on('message', (c: string, message: string) => this.bookEvent(c, message));
    await this.events.subscribe(this.keys.events('main'));

    const count = this.opts.hosts ?? 1;
    for (let n = 0; n < count; n++) this.hosts.push(await this.startHost(count > 1 ? `host-${n + 1}` : ''));
    // On air, and every broadcaster (each host's, standbys included) warm.
    let warm = 0;
    await Promise.all([
      this.waitForLog((l) => l.msg === 'destination on air', 60_000, 'the broadcaster on air'),
      this.waitForLog((l) => l.msg === 'broadcaster warm: encoding, published nowhere yet' && ++warm >= count * (1 + (this.opts.standbys ?? 0)), 60_000, 'warm standbys'),
    ]);
    await this.twitch.joined(this.channel, 30_000);
    this.watchStream();
    for (let i = 0; i < 300 && this.viewer!.seconds < 2; i++) await sleep(100);
  }

  /**
   * One host: its own data directory (config, live view, Redis data dir) and control port, and
   * its own `idolcast up` in a process group of its own, supervising every worker kind, ingest,
   * control and the channel's broadcaster(s). Hosts share Redis, nginx and the loopback fakes.
   */
  private async startHost(name: string): Promise<Host> {
    const dir = path.join(this.dir, name);
    fs.mkdirSync(dir, { recursive: true });
    const configPath = path.join(dir, 'config.yaml');
    fs.writeFileSync(configPath, YAML.stringify(this.hostConfig(dir, await freeLoopbackPort())));
    const env = { ...process.env, IDOLCAST_CONFIG: configPath, REDIS_URL: this.redisUrl, REDIS_CLUSTER_NODES: this.opts.cluster?.join(','), HARNESS_STREAM_KEY: this.streamKey };
    // Hosts of a multi-host fleet get process groups of their own (one host, as before, stays in
    // the runner's group, so a terminal's Ctrl-C reaches it too).
    const up = spawn(process.execPath, [CLI_ENTRY, 'up'], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: Boolean(name) });
    this.readLogs(up);
    return { name: name || 'host', dir, up };
  }

  private hostConfig(dir: string, controlPort: number): Record<string, unknown> {
    return {
      redis: { prefix: this.prefix, dataDir: path.join(dir, 'data', 'redis') },
      control: { port: controlPort },
      channels: { main: { live: { dir: path.join(dir, 'live') }, destinations: { local: { url: this.nginx.url, keyEnv: 'HARNESS_STREAM_KEY' } } } },
      voices: { idol: { engine: 'cloud', voice: 'nova', fallback: ['backup'] }, backup: { engine: LOCAL_ENGINE, voice: 'en-us+f3' } },
      defaultVoice: 'idol',
      // A small speech cache, so a soak sees it reach its bound (every chat line is new text) within the hour.
      tts: { engines: { cloud: { kind: 'openai', baseUrl: `${this.tts.url}/v1`, apiKey: FAKE_KEY } }, breaker: { timeoutMs: 1500, volumeThreshold: 3, resetTimeoutMs: 5000 }, cache: { maxBytes: 32 * 1024 * 1024 } },
      chat: { twitch: { enabled: true, server: this.twitch.url, channels: [this.channel] }, filter: { rateLimit: { capacity: 1000, perSecond: 1000 }, repeatWindowMs: 0 } },
      playout: { bed: { source: 'generated' }, standbys: this.opts.standbys ?? 0 },
      // A killed worker's job goes back to the queue within seconds, not BullMQ's default half minute.
      workers: { heartbeatMs: 1000, lockDurationMs: 4000, stalledIntervalMs: 2000 },
      log: { level: 'info' },
      ...(this.llm && { ai: aiHostConfig(this.llm.url) }),
      ...this.opts.config,
    };
  }

  private bookEvent(c: string, message: string): void {
    const e = parsePubSub(channelEventSchema, message, { warn: (_f, msg) => console.error(msg) }, c);
    if (!e?.utteranceId) return;
    // An airing cut off (its broadcaster lost the lease) is aired again: it does not count.
    const count = e.type === 'onair-start' ? 1 : e.type === 'onair-end' && e.interrupted ? -1 : 0;
    if (!count) return;
    this.aired.set(e.utteranceId, (this.aired.get(e.utteranceId) ?? 0) + count);
    if (count > 0 && !this.airedAt.has(e.utteranceId)) this.airedAt.set(e.utteranceId, e.startAt ?? Date.now());
  }

  /**
   * A whole host lost at once, as a machine losing power: every process of it SIGKILLed in one
   * sweep. `idolcast up` and each child it supervises lead process groups of their own (the
   * supervisor detaches its children), and a child's ffmpeg stays in its parent's group, so
   * killing every group found under the host also takes whatever was spawned mid-sweep.
   */
  killHost(host: Host): { killedAt: number; pids: number[] } {
    const pids = host.up.pid ? [host.up.pid, ...descendantsOf(host.up.pid).map((p) => p.pid)] : [];
    const ours = processGroupOf(process.pid);
    const groups = new Set(pids.map((pid) => processGroupOf(pid)).filter((g): g is number => g !== undefined && g !== ours));
    const killedAt = Date.now();
    for (const target of [...[...groups].map((g) => -g), ...pids]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return { killedAt, pids };
  }

  /** The host a fleet process runs on (by its pid), if any. */
  hostOf(pid: number): Host | undefined {
    return this.hosts.find((h) => h.up.pid === pid || (h.up.pid && descendantsOf(h.up.pid).some((p) => p.pid === pid)));
  }

  /** Every viewer started, oldest first: the stream's history survives a viewer's reconnect. */
  private readonly viewers: RtmpViewer[] = [];
  private viewerCheck?: NodeJS.Timeout;

  /** Watch the destination stream; a viewer whose stream ended is replaced, as a player would reconnect. */
  watchStream(): void {
    this.viewer?.stop();
    this.viewer = new RtmpViewer(this.streamUrl);
    this.viewers.push(this.viewer);
    clearInterval(this.viewerCheck);
    this.viewerCheck = setInterval(() => this.viewer?.ended && this.watchStream(), 100);
  }

  /** Pid of the broadcaster holding the channel's lock (its member id carries the pid). */
  async activeBroadcasterPid(): Promise<number | undefined> {
    const holder = await this.redis.get(this.keys.broadcastLeader('main'));
    const pid = /-(\d+)-[0-9a-f]+ /.exec(holder ?? '')?.[1];
    return pid ? Number(pid) : undefined;
  }

  private readLogs(child: ChildProcess): void {
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(l) as Record<string, unknown>;
      } catch {
        return;
      }
      this.book(line);
      if (line.msg === 'line interrupted on air: to be aired again') this.interrupted++;
      for (const w of [...this.logWatchers]) w(line);
    });
  }

  private book(line: Record<string, unknown>): void {
    if (line.msg === 'chat decision' && typeof line.messageId === 'string') {
      const prev = this.decisions.get(line.messageId);
      if (!prev || line.decision !== 'duplicate') this.decisions.set(line.messageId, { decision: String(line.decision), reason: String(line.reason) });
    } else if (line.msg === 'on air' && typeof line.utteranceId === 'string') {
      this.airedLogged.set(line.utteranceId, (this.airedLogged.get(line.utteranceId) ?? 0) + 1);
    } else if (typeof line.utteranceId === 'string' && typeof line.msg === 'string' && /dropped/.test(line.msg)) {
      this.dropped.set(line.utteranceId, String(line.reason ?? line.msg));
    }
  }

  /** Call `fn` with every log line of the fleet from now on. */
  onLog(fn: (line: Record<string, unknown>) => void): void {
    this.logWatchers.push(fn);
  }

  /** Resolves with the first log line (from any fleet process) matching, bounded. */
  waitForLog(match: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.logWatchers.splice(this.logWatchers.indexOf(watch), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch = (l: Record<string, unknown>) => {
        if (!match(l)) return;
        clearTimeout(timer);
        this.logWatchers.splice(this.logWatchers.indexOf(watch), 1);
        resolve(l);
      };
      this.logWatchers.push(watch);
    });
  }

  private async startRedis(): Promise<void> {
    this.localRedis = await startRedisServer({ port: this.redisPort, dir: path.join(this.dir, 'redis'), appendonly: true });
  }

  /** SIGKILL redis-server and start it again from its AOF on the same port. */
  async crashRedis(): Promise<void> {
    this.localRedis?.child?.kill('SIGKILL');
    const child = this.localRedis?.child;
    if (child && child.exitCode === null && child.signalCode === null) await new Promise<void>((r) => child.once('exit', () => r()));
    await this.startRedis();
  }

  /** One chat message from a viewer through the Twitch stand-in (`tags`: e.g. bits, a paid cheer); returns its id. */
  chat(text?: string, tags: Record<string, string | number> = {}): string {
    const n = this.seq++;
    const id = `m${n}-${randomBytes(2).toString('hex')}`;
    const user = { login: `viewer${n % 300}`, id: String(10_000 + (n % 300)) };
    this.twitch.broadcast(this.channel, this.twitch.privmsg(this.channel, user, text ?? `chat line number ${n} says hello`, { ...tags, id }));
    this.sent.set(id, Date.now());
    return id;
  }

  /** Chat at `perSecond` for `ms` (bounded); `message(i)` gives the i-th message's text and tags (default: plain chat). */
  async drive(perSecond: number, ms: number, message: (i: number) => [string?, Record<string, string | number>?] = () => []): Promise<string[]> {
    const ids: string[] = [];
    const start = Date.now();
    for (let i = 0; ; i++) {
      const due = start + (i * 1000) / perSecond;
      if (due - start >= ms) break;
      if (due > Date.now()) await sleep(due - Date.now());
      ids.push(this.chat(...message(i)));
    }
    return ids;
  }

  /** The fleet's processes: every descendant of each host's `idolcast up`, with its command line. */
  processes(): ProcessInfo[] {
    const all = listProcesses();
    return this.hosts.flatMap((h) => (h.up.pid ? descendantsOf(h.up.pid, all) : []));
  }

  /** Lines that did not finish airing and were queued again (each broadcaster's log says so). */
  interruptions(): number {
    return this.interrupted;
  }

  /**
   * The books for messages sent in `ids`: accepted, spoken, shed with reasons, lost (accepted
   * for speech but neither on air nor dropped with a reason), spoken twice, and aired without
   * its on-air start event (a broadcaster killed before its live view's clock reached the line).
   */
  account(ids: string[]) {
    const shed: Record<string, number> = {};
    let accepted = 0;
    let spoken = 0;
    let spokenTwice = 0;
    let droppedWithReason = 0;
    let undecided = 0;
    let unannounced = 0;
    const lost: string[] = [];
    for (const id of ids) {
      const d = this.decisions.get(id);
      if (!d) {
        undecided++;
        continue;
      }
      if (d.decision !== 'spoken') {
        const key = `${d.decision}: ${d.reason.replace(/\d+/g, 'N')}`;
        shed[key] = (shed[key] ?? 0) + 1;
        continue;
      }
      accepted++;
      const u = `twitch-${id}`.replace(/[^A-Za-z0-9_.-]/g, '_');
      const events = this.aired.get(u) ?? 0;
      const airs = Math.max(events, this.airedLogged.get(u) ?? 0);
      if (airs > events) unannounced++;
      if (airs > 0) spoken++;
      if (airs > 1) spokenTwice++;
      if (airs === 0) {
        if (this.dropped.has(u)) droppedWithReason++;
        else lost.push(id);
      }
    }
    return { sent: ids.length, accepted, spoken, droppedBeforeAir: droppedWithReason, shed, undecided, lost: lost.length, lostIds: lost.slice(0, 10), spokenTwice, airedUnannounced: unannounced };
  }

  /**
   * Longest stretch the stream carried no sound between two wall times (ms): silent 10 ms
   * windows in a row (the bed fills every intended gap) and holes between audio packets.
   */
  longestSilenceMs(from: number, to: number): number {
    let worst = 0;
    // Nothing arriving at all (across viewers: the stream dropped and came back).
    const walls = this.viewers.flatMap((v) => v.arrivals.map((a) => a.wall)).filter((w) => w >= from && w <= to).sort((a, b) => a - b);
    for (let i = 1; i < walls.length; i++) worst = Math.max(worst, walls[i]! - walls[i - 1]!);
    for (const v of this.viewers) {
      // Sound that is silence: 10 ms windows below -60 dBFS in a row (the bed fills intended gaps).
      const pcm = v.audio;
      const win = Math.round(v.rate / 100) * 2;
      let run = 0;
      for (let a = 0; a < v.arrivals.length; a++) {
        const { wall, offset } = v.arrivals[a]!;
        if (wall < from || wall > to) continue;
        const end = a + 1 < v.arrivals.length ? v.arrivals[a + 1]!.offset : pcm.length;
        for (let i = offset; i + win <= end; i += win) {
          let sum = 0;
          for (let j = 0; j < win; j += 2) sum += (pcm.readInt16LE(i + j) / 32768) ** 2;
          run = Math.sqrt(sum / (win / 2)) < 0.001 ? run + 10 : 0;
          worst = Math.max(worst, run);
        }
      }
      // Holes between audio packets within one connection.
      worst = Math.max(worst, v.largestGapMs(from, to));
    }
    return worst;
  }

  /** Forget the stream's history before `wall` (a soak would otherwise hold every second of it). */
  forgetBefore(wall: number): void {
    for (const v of this.viewers) v.trim(wall);
    this.viewers.splice(0, this.viewers.length - 1, ...this.viewers.slice(0, -1).filter((v) => v.arrivals.length));
  }

  /** A line straight to the speech queue above all chat (what an operator's `say` is): heard when the pipeline works. */
  async probe(text: string): Promise<string> {
    const id = `probe-${randomBytes(4).toString('hex')}`;
    await this.queues.enqueue('tts', { utteranceId: id, channel: 'main', text, voice: 'idol', priority: 9, acceptedAt: Date.now(), origin: { platform: 'local', user: 'harness' } });
    return id;
  }

  /** Wall time utterance `id` went on air, waiting for it (bounded). */
  async waitForUtterance(id: string, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const at = this.airedAt.get(id);
      if (at !== undefined) return at;
      await sleep(100);
    }
    return undefined;
  }

  /** Waits until the speech queues are empty (bounded), so a scenario's books are final. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const depth = await this.depth().catch(() => Infinity);
      if (depth === 0) return;
      await sleep(500);
    }
  }

  /** Jobs waiting or running across the speech path (tts, audio, playout). */
  async depth(): Promise<number> {
    const states = ['waiting', 'prioritized', 'active', 'delayed'] as const;
    const counts = await Promise.all([this.queues.queue('tts'), this.queues.queue('audio'), this.queues.queue('playout', 'main')].map((q) => q.getJobCounts(...states)));
    return counts.reduce((s, c) => s + states.reduce((t, st) => t + (c[st] ?? 0), 0), 0);
  }

  /** Depth per queue (waiting + prioritized + delayed + active). */
  async depths(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const kind of Object.keys(registry) as QueueKey[]) {
      const q = kind === 'playout' ? this.queues.queue('playout', 'main') : this.queues.queue(kind);
      const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      out[kind] = Object.values(c).reduce((a, b) => a + b, 0);
    }
    return out;
  }

  private async stopHost({ up }: Host): Promise<void> {
    if (up.exitCode !== null || up.signalCode !== null) return;
    const exited = new Promise((r) => up.once('exit', r));
    up.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    for (const p of up.pid ? descendantsOf(up.pid) : []) process.kill(p.pid, 'SIGKILL');
    if (up.exitCode === null) up.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    clearInterval(this.viewerCheck);
    for (const v of this.viewers) v.stop();
    await Promise.all(this.hosts.map((h) => this.stopHost(h)));
    await this.queues?.close().catch(() => {});
    this.redis?.disconnect();
    this.events?.disconnect();
    await this.localRedis?.stop().catch(() => {});
    await this.nginx.stop().catch(() => {});
    await this.twitch.close();
    await this.tts.close();
    await this.llm?.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

