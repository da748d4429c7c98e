import fs from 'node:fs';
import path from 'node:path';
import type { FleetMember } from '../../src/fleet';
import { createRedis, keyspace } from '../../src/redis';
import { TestFleet, eventually } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

describe('idolcast up: the whole fleet on a local Redis, supervised', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('starts everything, speaks a chat message, restarts a killed child, and stops cleanly on SIGTERM', async () => {
    const redisPort = await freeLoopbackPort();
    const port = await freeLoopbackPort();
    fleet = new TestFleet();
    const dataDir = path.join(fleet.dir, 'redis');
    fleet.configure({ redis: { localPort: redisPort, dataDir } });

    // No REDIS_URL: `up` must start its own redis-server (AOF on) and point the children at it.
    const up = fleet.start(['up'], { REDIS_URL: '', PORT: String(port) });
    await up.waitForLog('local redis ready (AOF on, noeviction)');
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => ((await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 'the fleet to be ready', 30000, 200);

    const res = await fetch(`${base}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'Ann', text: 'Are you live?' }) });
    expect(res.status).toBe(202);
    const { utteranceId } = (await res.json()) as { utteranceId: string };
    await up.waitForLog('on air', { utteranceId }, 30000);
    // No model keys: the default persona answers the question on the canned engine, through the reply worker `up` started.
    await up.waitForLog('AI reply queued for speech', { channel: 'main', reason: 'question' }, 30000);
    await eventually(async () => up.lines.find((l) => l.msg === 'on air' && String(l.utteranceId).startsWith('ai-')), 'the AI reply on air', 30000, 100);
    expect(fs.existsSync(path.join(dataDir, 'appendonlydir'))).toBe(true);

    // SIGKILL the tts worker: the supervisor logs the crash and brings a new one up.
    const local = createRedis(`redis://127.0.0.1:${redisPort}`);
    const keys = keyspace(fleet.prefix);
    try {
      const members = async () => (await local.mget((await local.zrange(keys.fleet, '0', '-1')).map((id) => keys.fleetMember(id)))).flatMap((m) => (m ? [JSON.parse(m) as FleetMember] : []));
      const tts = (await members()).find((m) => m.kind === 'worker-tts')!;
      process.kill(tts.pid, 'SIGKILL');
      const restart = await up.waitForLog('child exited: restarting', { child: 'worker-tts' });
      expect(restart).toMatchObject({ signal: 'SIGKILL', restartInMs: 1000 });
      await eventually(async () => ((await members()).some((m) => m.kind === 'worker-tts' && m.pid !== tts.pid) ? true : undefined), 'a new tts worker', 20000, 200);

      const pids = (await members()).map((m) => m.pid);
      up.kill('SIGTERM');
      const exit = await up.exited;
      expect(exit.code).toBe(0);
      expect(up.lines.some((l) => l.msg === 'fleet stopped')).toBe(true);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      local.disconnect();
    }
    // The local Redis is down too.
    const probe = await fetch(`${base}/healthz`).catch(() => undefined);
    expect(probe).toBeUndefined();
  });
});
