import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { registry } from '../../queues/registry';
import { WORKER_KINDS } from '../../queues/catalog';
import { PROJECT_ROOT } from '../../src/paths';
import { TestFleet } from '../helpers/fleet';

const K8S = path.join(PROJECT_ROOT, 'docker', 'k8s');

interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each kind's spec differs; the tests walk the parsed YAML
}

function manifests(): Doc[] {
  const kustomization = YAML.parse(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources.flatMap((file) => YAML.parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8')).map((d) => d.toJS() as Doc).filter(Boolean));
}

describe('Kubernetes manifests (docker/k8s)', () => {
  const docs = manifests();
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  const scaled = docs.filter((d) => d.kind === 'ScaledObject');
  const prefix = docs.find((d) => d.kind === 'ConfigMap')!.data!.REDIS_PREFIX!;
  const queueNames = Object.values(registry).map((q) => q.name);

  it('a Deployment for every process kind, each running a real idolcast command', () => {
    const args = deployments.map((d) => d.spec!.template.spec.containers[0].args as string[]);
    for (const kind of WORKER_KINDS) expect(args).toContainEqual(['worker', kind]);
    expect(args).toContainEqual(['control']);
    expect(args).toContainEqual(['ingest']);
    expect(args.some((a) => a[0] === 'broadcast')).toBe(true);
    // Workers finish in-flight jobs on SIGTERM for up to 20 s: the grace period must be longer.
    for (const d of deployments.filter((x) => x.metadata.name.startsWith('worker-'))) expect(d.spec!.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(20);
  });

  it('KEDA scales Deployments that exist, on the BullMQ wait lists of catalog queues', () => {
    expect(scaled.length).toBeGreaterThan(0);
    for (const s of scaled) {
      expect(deployments.map((d) => d.metadata.name)).toContain(s.spec!.scaleTargetRef.name);
      for (const t of s.spec!.triggers as { type: string; metadata: Record<string, string> }[]) {
        if (t.type === 'redis') {
          const m = /^(.+):([^:]+):wait$/.exec(t.metadata.listName!);
          expect(m?.[1]).toBe(prefix);
          expect(queueNames).toContain(m?.[2]);
          expect(s.spec!.scaleTargetRef.name).toBe(`worker-${m?.[2]}`);
        } else {
          expect(t.type).toBe('prometheus');
          expect(queueNames).toContain(/queue="([^"]+)"/.exec(t.metadata.query!)?.[1]);
        }
      }
    }
  });

  it('the keys KEDA reads are where BullMQ really keeps the waiting jobs', async () => {
    const fleet = new TestFleet();
    try {
      const tts = { utteranceId: 'k8s-1', channel: 'main', text: 'hello', voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } };
      await fleet.queues.enqueue('tts', tts);
      await fleet.queues.enqueue('routine', { type: 'routine', name: 'r', channel: 'main', action: { say: 'hi' }, ignoreQuietHours: false });
      const list = (queue: string) => `${fleet.prefix}:${queue}:wait`;
      // FIFO jobs are in the list KEDA's Redis scaler counts…
      expect(await fleet.redis.llen(list('routine'))).toBe(1);
      // …prioritised ones (every speech job) in a sorted set it cannot: hence the Prometheus trigger.
      expect(await fleet.redis.llen(list('tts'))).toBe(0);
      expect(await fleet.redis.zcard(`${fleet.prefix}:tts:prioritized`)).toBe(1);
      const ttsScaler = scaled.find((s) => s.spec!.scaleTargetRef.name === 'worker-tts')!;
      expect((ttsScaler.spec!.triggers as { type: string; metadata: { query?: string } }[]).some((t) => t.type === 'prometheus' && t.metadata.query!.includes('prioritized'))).toBe(true);
    } finally {
      await fleet.close();
    }
  });

  it('no process shares its PID namespace: the broadcaster holding the stream keys is not visible to other containers', () => {
    for (const d of deployments) {
      const pod = d.spec!.template.spec as Record<string, unknown>;
      expect([d.metadata.name, pod.shareProcessNamespace ?? false, pod.hostPID ?? false]).toEqual([d.metadata.name, false, false]);
    }
    for (const d of deployments) {
      const secrets = (d.spec!.template.spec.containers[0].envFrom as { secretRef?: { name: string } }[]).map((e) => e.secretRef?.name);
      expect([d.metadata.name, secrets.includes('idolcast-stream-keys')]).toEqual([d.metadata.name, d.metadata.name.startsWith('broadcast')]);
    }
    const compose = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'docker', 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Record<string, unknown>> };
    for (const [name, service] of Object.entries(compose.services)) expect([name, service.pid]).toEqual([name, undefined]);
    // Only the broadcaster is given the stream keys.
    for (const [name, service] of Object.entries(compose.services)) {
      const env = Object.keys((service.environment as Record<string, string> | undefined) ?? {});
      expect([name, env.some((k) => k.endsWith('_STREAM_KEY'))]).toEqual([name, name === 'broadcast']);
    }
  });
});
