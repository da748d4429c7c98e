import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const r = (globalThis as Record<string, unknown>).__idolcastRedis as { stop: () => Promise<void>; dir: string } | undefined;
  if (!r) return;
  await r.stop();
  fs.rmSync(r.dir, { recursive: true, force: true });
}
