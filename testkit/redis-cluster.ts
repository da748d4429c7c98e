import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freeLoopbackPort } from '../src/ports';
import { sleep } from '../src/time';

/** One redis-server of the cluster: its client port, its bus port and the process. */
export interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** One-shot command against a loopback node; undefined when it does not answer. */
export async function askNode(port: number, ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(...command);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/** Resolve once `probe` returns something other than undefined, or throw after `timeoutMs`. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Redis Cluster's slot of a key: CRC16 (XMODEM) of the key, or of its first non-empty `{hash tag}`. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * A real Redis Cluster on loopback ports: Debian's redis-server in cluster mode (AOF on), joined
 * by `redis-cli --cluster create` into `masters` masters with one replica each. The bus ports are
 * picked free too (`--cluster-port`), as port + 10000 may be taken or out of range.
 * `nodeTimeoutMs` is how long a master may be unreachable before its replica takes over.
 */
export class RedisCluster {
  readonly nodes: ClusterNodeProcess[] = [];

  constructor(
    private readonly dir: string,
    private readonly opts: { masters?: number; nodeTimeoutMs?: number } = {},
  ) {}

  /** `host:port` of every node, as REDIS_CLUSTER_NODES takes them. */
  get addresses(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  async start(): Promise<void> {
    const count = (this.opts.masters ?? 3) * 2;
    for (let i = 0; i < count; i++) this.nodes.push(await this.startNode(i));
    await until(async () => ((await Promise.all(this.nodes.map((n) => askNode(n.port, 'PING')))).every((p) => p === 'PONG') ? true : undefined), 'every node to answer', 15000, 50);
    await this.create();
    await this.waitHealthy(30000);
    // cluster_state:ok comes before the replicas' first sync: wait for every replication link.
    await until(async () => {
      const infos = await Promise.all(this.nodes.map((n) => askNode(n.port, 'INFO', 'replication')));
      const replicas = infos.filter((i) => String(i).includes('role:slave'));
      return replicas.length === this.nodes.length / 2 && replicas.every((i) => String(i).includes('master_link_status:up')) ? true : undefined;
    }, 'every replica in sync', 30000);
  }

  private async startNode(i: number): Promise<ClusterNodeProcess> {
    const port = await freeLoopbackPort();
    const busPort = await freeLoopbackPort();
    const dir = path.join(this.dir, `node-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const args = [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--daemonize', 'no', '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction',
      '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-port', String(busPort),
      '--cluster-node-timeout', String(this.opts.nodeTimeoutMs ?? 1500),
      // A replica whose link broke a while ago may still take over: the test kills masters on purpose.
      '--cluster-replica-validity-factor', '0',
    ];
    const log = fs.openSync(path.join(dir, 'redis.log'), 'a');
    const child = spawn('redis-server', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => {});
    return { port, busPort, dir, child, exited };
  }

  private create(): Promise<void> {
    const args = ['--cluster', 'create', ...this.addresses, '--cluster-replicas', '1', '--cluster-yes'];
    return new Promise((resolve, reject) => {
      execFile('redis-cli', args, { timeout: 30000 }, (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout.slice(-1500)}${stderr}`)) : resolve()));
    });
  }

  /** Every live node reports `cluster_state:ok` and sees every slot served. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    await until(async () => {
      const infos = await Promise.all(this.running().map((n) => askNode(n.port, 'CLUSTER', 'INFO')));
      return infos.every((i) => typeof i === 'string' && i.includes('cluster_state:ok') && i.includes('cluster_slots_ok:16384')) ? true : undefined;
    }, 'cluster_state:ok on every node', timeoutMs);
  }

  private running(): ClusterNodeProcess[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  /** The node currently serving `slot` as master, as a live node sees it. */
  async masterOf(slot: number): Promise<ClusterNodeProcess | undefined> {
    for (const n of this.running()) {
      const slots = (await askNode(n.port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]]][] | undefined;
      const range = slots?.find(([from, to]) => slot >= from && slot <= to);
      if (range) return this.nodes.find((m) => m.port === range[2][1]);
    }
    return undefined;
  }

  /** A replica of `master`, as the master itself lists them (ROLE). */
  async replicaOf(master: ClusterNodeProcess): Promise<ClusterNodeProcess | undefined> {
    const role = (await askNode(master.port, 'ROLE')) as [string, number, [string, string, string][]] | undefined;
    const port = Number(role?.[2]?.[0]?.[1]);
    return this.nodes.find((n) => n.port === port);
  }

  /** SIGKILL one node (a master lost with whatever it had not yet replicated). */
  async kill(node: ClusterNodeProcess): Promise<void> {
    node.child.kill('SIGKILL');
    await node.exited;
  }

  /** Stop every node: SHUTDOWN NOSAVE first, SIGKILL whatever is left after 5 s. */
  async stop(): Promise<void> {
    const live = this.running();
    await Promise.all(live.map((n) => askNode(n.port, 'SHUTDOWN', 'NOSAVE')));
    const timer = setTimeout(() => live.forEach((n) => n.child.kill('SIGKILL')), 5000);
    await Promise.all(live.map((n) => n.exited));
    clearTimeout(timer);
  }
}
