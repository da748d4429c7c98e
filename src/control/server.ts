import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/load';
import type { ChatEvent } from '../chat/chat-event';
import { listFleet } from '../fleet';
import { onShutdown } from '../lifecycle';
import { PROJECT_ROOT } from '../paths';
import { bootProcess, type ProcessContext } from '../process';
import { requireToken, isLoopback } from './auth';
import { allQueues, createMetricsPage } from './metrics-page';

/** The body of `POST /api/chat`: a message typed by a local viewer. */
export const localChatSchema = z.strictObject({
  user: z.string().trim().min(1, 'a user name is required').max(25).regex(/^[\p{L}\p{N}_ .-]+$/u, 'letters, digits, space, _ . - only'),
  text: z.string().min(1, 'text is required').max(2000, 'at most 2000 characters'),
  channel: z.string().regex(/^[a-z0-9_-]{1,32}$/).optional(),
});

/** Fleet members the control server expects for readiness: every worker kind, ingest, a broadcaster. */
const REQUIRED_KINDS = ['ingest', 'broadcast', 'worker-tts', 'worker-audio', 'worker-scene', 'worker-routine', 'worker-maintenance'];

/** Build the control app (exported for tests that mount it on an ephemeral port). */
export function createControlApp(ctx: ProcessContext) {
  const { config, redis, keys, queues, log } = ctx;
  const app = express();
  app.disable('x-powered-by');
  const token = config.control.adminToken;
  const guard = token ? requireToken(token) : (_req: Request, _res: Response, next: () => void) => next();

  // Bull Board: inspect, retry, promote, clean every queue of the catalog.
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: allQueues(config, queues).map((q) => new BullMQAdapter(q)), serverAdapter: board });
  app.use('/admin', guard);
  app.use('/admin/queues', board.getRouter() as express.Router); // bull-board types its router `any`
  app.use('/api', guard);

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, uptimeS: Math.round(process.uptime()) });
  });

  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, { ok: boolean; detail?: unknown }> = {};
    try {
      await redis.ping();
      checks.redis = { ok: true };
    } catch (err) {
      checks.redis = { ok: false, detail: (err as Error).message };
    }
    const members = checks.redis.ok ? await listFleet(redis, keys, config.workers.heartbeatMs).catch(() => []) : [];
    for (const kind of REQUIRED_KINDS) {
      const alive = members.filter((m) => m.kind === kind);
      checks[kind] = { ok: alive.length > 0, detail: { replicas: alive.length } };
    }
    const ok = Object.values(checks).every((c) => c.ok);
    // Informational: an open breaker degrades the voice, never readiness (the fallback chain speaks).
    const engines = Object.keys(config.tts.engines);
    if (engines.length && checks.redis.ok) {
      const ttls = await Promise.all(engines.map((e) => redis.pttl(keys.breaker(e))));
      checks.tts = { ok: true, detail: Object.fromEntries(engines.map((e, i) => [e, ttls[i]! > 0 ? { breaker: 'open', probeInMs: ttls[i] } : { breaker: 'closed' }])) };
    }
    res.status(ok ? 200 : 503).json({ ok, checks });
  });

  const metricsPage = createMetricsPage(ctx.metrics.registry, config, queues, redis, keys);
  app.get('/metrics', async (_req, res) => {
    try {
      const page = await metricsPage();
      res.type(page.contentType).send(page.body);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'metrics scrape failed');
      res.status(503).type('text/plain').send('metrics unavailable: Redis unreachable\n');
    }
  });

  app.get('/api/fleet', async (_req, res) => {
    res.json({ members: await listFleet(redis, keys, config.workers.heartbeatMs) });
  });

  app.get('/api/channels', (_req, res) => {
    res.json({
      defaultChannel: config.defaultChannel,
      channels: Object.entries(config.channels).map(([id, c]) => ({ id, title: c.title, live: `/live/${id}/index.m3u8` })),
    });
  });

  app.post('/api/chat', express.json({ limit: '16kb' }), async (req, res) => {
    const body = localChatSchema.safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: 'bad chat message', problems: body.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
      return;
    }
    const channel = body.data.channel ?? config.defaultChannel;
    if (!(channel in config.channels)) {
      res.status(400).json({ error: 'bad chat message', problems: [`channel: no channel "${channel}"`] });
      return;
    }
    const now = Date.now();
    const login = body.data.user.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const event: ChatEvent = {
      platform: 'local', channel, id: randomUUID(), kind: 'message', text: body.data.text, emotes: [], timestamp: now, acceptedAt: now,
      user: { id: `local-${login}`, login, displayName: body.data.user, roles: [] },
    };
    try {
      await queues.enqueue('chat', event);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'could not accept chat message');
      res.status(503).json({ error: 'could not accept the message right now; try again' });
      return;
    }
    res.status(202).json({ id: event.id, utteranceId: `local-${event.id}`, channel });
  });

  // Live events (speech ready, on air, scene) of a channel as server-sent events.
  const listeners = new Map<string, Set<Response>>();
  const subscriber = redis.duplicate();
  void subscriber.psubscribe(keys.events('*'));
  subscriber.on('pmessage', (_pattern, redisChannel: string, message: string) => {
    const channel = redisChannel.slice(keys.events('').length);
    for (const res of listeners.get(channel) ?? []) res.write(`data: ${message}\n\n`);
  });
  const events = (req: Request, res: Response) => {
    const channel = typeof req.query.channel === 'string' ? req.query.channel : config.defaultChannel;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const set = listeners.get(channel) ?? new Set();
    set.add(res);
    listeners.set(channel, set);
    const ping = setInterval(() => res.write(': keep-alive\n\n'), 15000);
    req.on('close', () => {
      clearInterval(ping);
      set.delete(res);
    });
  };
  app.get('/api/events', events);

  // The overlay for an OBS browser source: the page, its theme, and the same live events.
  // With an admin token it is opened as /overlay?token=… (a browser source cannot send headers).
  const overlayGuard = token ? requireToken(token, { query: true }) : (_req: Request, _res: Response, next: () => void) => next();
  app.get('/overlay', overlayGuard, (_req, res) => res.sendFile(path.join(PROJECT_ROOT, 'src', 'control', 'public', 'overlay.html')));
  app.get('/overlay/theme.json', overlayGuard, async (req, res) => {
    const channel = typeof req.query.channel === 'string' && req.query.channel in config.channels ? req.query.channel : config.defaultChannel;
    const scene = await redis.hget(keys.scene(channel), 'scene').catch(() => null);
    res.json({ ...config.overlay, defaultChannel: config.defaultChannel, channel, scene });
  });
  app.get('/overlay/events', overlayGuard, events);

  // The local live view: HLS written by the broadcasters, hls.js, and the page.
  for (const [id, c] of Object.entries(config.channels)) {
    app.use(`/live/${id}`, express.static(path.resolve(c.live.dir, id), { cacheControl: false, setHeaders: (res) => res.setHeader('cache-control', 'no-cache') }));
  }
  app.get('/vendor/hls.min.js', (_req, res) => res.sendFile(require.resolve('hls.js/dist/hls.min.js')));
  app.use(express.static(path.join(PROJECT_ROOT, 'src', 'control', 'public')));

  // Body parser failures (bad JSON, too large) answer in JSON like every other API error.
  app.use('/api', (err: { status?: number; type?: string; message?: string }, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (!err.status || err.status >= 500) return next(err);
    const why = err.type === 'entity.parse.failed' ? 'the body is not valid JSON' : err.type === 'entity.too.large' ? 'the body is too large (16 kB at most)' : (err.message ?? 'bad request');
    res.status(err.status).json({ error: 'bad chat message', problems: [why] });
  });

  const close = async () => {
    for (const set of listeners.values()) for (const res of set) res.end();
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
  return { app, close };
}

/** Refuse to expose the dashboard and API beyond this machine without a token. */
export function checkBind(host: string, token: string): void {
  if (!isLoopback(host) && !token) {
    throw new ConfigError('control.host', [
      `control.host: binding ${host} exposes the dashboard and API beyond this machine; set ADMIN_TOKEN (or control.adminToken) or bind 127.0.0.1`,
    ]);
  }
}

/** The control process. */
export async function runControl(): Promise<void> {
  const checked = loadConfig();
  checkBind(checked.control.host, checked.control.adminToken);
  const ctx = bootProcess('control', { blocking: false });
  const { config, log } = ctx;
  const { app, close } = createControlApp(ctx);
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.control.port, config.control.host, resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.control.port;
  ctx.heartbeat.start();
  log.info({ url: `http://${config.control.host}:${port}/`, auth: Boolean(config.control.adminToken) }, 'control server listening');
  if (!fs.existsSync(path.join(PROJECT_ROOT, 'src', 'control', 'public', 'index.html'))) log.warn('the live page is missing');

  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    await close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await ctx.close();
  });
}
