import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LocalFleet } from '../../scripts/harness';
import { askNode, keySlot, RedisCluster, type ClusterNodeProcess } from '../../testkit/redis-cluster';
import YAML from 'yaml';
import { eventually } from '../helpers/fleet';

/** Keys of ours (by prefix) on each master. */
async function ourKeysByMaster(cluster: RedisCluster, prefix: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const n of cluster.nodes) {
    const role = (await askNode(n.port, 'ROLE')) as [string] | undefined;
    if (role?.[0] !== 'master') continue;
    const keys = (await askNode(n.port, 'KEYS', `${prefix}*`)) as string[] | undefined;
    out.set(n.port, keys?.length ?? 0);
  }
  return out;
}

/** The control server's event stream of channel main (fed by its psubscribe on the cluster), once it is open. */
function watchControlEvents(port: number): Promise<{ seen: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const req = http.get({ host: '127.0.0.1', port, path: '/api/events?channel=main' }, (res) => {
      res.on('data', (d: Buffer) => (seen += d.toString()));
      resolve({ seen: () => seen, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/**
 * The whole fleet (`idolcast up`: control, ingest, every worker kind, the broadcaster; chat from
 * the loopback Twitch, pushed to a real nginx-rtmp) on a real Redis Cluster of three masters and
 * three replicas (Debian's redis-server in cluster mode, `cluster-node-timeout` 1500 ms). The
 * processes are given the nodes in REDIS_CLUSTER_NODES and nothing else about Redis.
 */
describe('the fleet on a real Redis Cluster (3 masters, 3 replicas)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-cluster-'));
  const cluster = new RedisCluster(path.join(dir, 'cluster'), { nodeTimeoutMs: 1500 });
  let fleet: LocalFleet;

  beforeAll(async () => {
    await cluster.start();
    // A loaded test machine's event-loop lag reads as a slow Redis and would shed the chat the test
    // counts (as in test/helpers/fleet.ts); shedding has tests of its own.
    fleet = new LocalFleet({ cluster: cluster.addresses, config: { degradation: { redisRttMs: { shed: 5000, ttl: 10000, voice: 20000 } } } });
    // Short lines, so the idol airs the test's chat about as fast as it is sent.
    fleet.tts.msPerChar = 20;
    await fleet.start();
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop();
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("a chat line reaches the air (and the control server's event stream), and every key of ours lives in the one slot of its hash tag", async () => {
    const { control } = YAML.parse(fs.readFileSync(path.join(fleet.hosts[0]!.dir, 'config.yaml'), 'utf8')) as { control: { port: number } };
    const stream = await watchControlEvents(control.port);
    const id = fleet.chat('hello from the cluster');
    const aired = await fleet.waitForUtterance(`twitch-${id}`, 30_000);
    await eventually(async () => (stream.seen().includes(`twitch-${id}`) ? true : undefined), "the line's events on the control server's stream", 10_000);
    stream.close();
    expect({ aired: aired !== undefined, decision: fleet.decisions.get(id) }).toEqual({ aired: true, decision: { decision: 'spoken', reason: expect.any(String) as string } });
    expect(fleet.prefix).toMatch(/^\{h[0-9a-f]{6}\}$/);
    const home = await cluster.masterOf(keySlot(fleet.prefix));
    const byMaster = await ourKeysByMaster(cluster, fleet.prefix);
    expect(byMaster.size).toBe(3);
    // The queues, the fleet's heartbeats, the broadcast lock, the speech order… all on one master.
    expect(byMaster.get(home!.port)).toBeGreaterThan(10);
    expect([...byMaster].filter(([port]) => port !== home!.port).map(([, n]) => n)).toEqual([0, 0]);
  }, 60_000);

  it('a master SIGKILLed mid-flow is replaced by its replica, and no accepted message is lost', async () => {
    const slot = keySlot(fleet.prefix);
    const victim = (await cluster.masterOf(slot))!;
    const ids = await fleet.drive(2, 2000);
    const during = fleet.drive(2, 6000);
    // Mid-flow: the next chat decision after the drive starts.
    await fleet.waitForLog((l) => l.msg === 'chat decision', 10_000, 'a chat decision');
    const killedAt = Date.now();
    await cluster.kill(victim);
    const promoted: ClusterNodeProcess = await eventually(async () => {
      const m = await cluster.masterOf(slot);
      return m && m !== victim ? m : undefined;
    }, 'a replica to take over the slot', 30_000, 100);
    const promotedMs = Date.now() - killedAt;
    ids.push(...(await during));
    // Every message sent has its decision, and every accepted one airs (or is dropped with a reason).
    const books = await eventually(async () => {
      const b = fleet.account(ids);
      return b.undecided === 0 && b.lost === 0 ? b : undefined;
    }, 'every accepted message to air', 60_000, 200).catch(() => fleet.account(ids));
    console.log(JSON.stringify({ test: 'redis-cluster-failover', nodeTimeoutMs: 1500, promotedMs, ...books }));
    expect(promoted.port).not.toBe(victim.port);
    expect({ undecided: books.undecided, lost: books.lost, lostIds: books.lostIds }).toEqual({ undecided: 0, lost: 0, lostIds: [] });
    expect(books.accepted).toBeGreaterThan(10);
  }, 120_000);
});
