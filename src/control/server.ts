import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/load';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { MEMBER_KINDS } from '../../queues/catalog';
import { listFleet } from '../fleet';
import { onShutdown } from '../lifecycle';
import { PROJECT_ROOT } from '../paths';
import { bootProcess, type ProcessContext } from '../process';
import { duplicate } from '../redis';
import type { Config } from '../config/schema';
import { engineBreakers } from '../tts/breaker-state';
import { isLoopback, overlayTokenOf, requireOverlayToken, requireToken } from './auth';
import { EventStreams } from './event-streams';
import { overlayAvatarInfo, overlayLayerFile } from './overlay-avatar';
import { LiveRelay } from './live-relay';
import { RateLimiter } from './rate-limit';
import { mountAiApi } from './ai-api';
import { checkHost, hostMatcher, refuseCrossSite, securityHeaders } from './same-origin';
import { allQueues, createMetricsPage } from './metrics-page';

const PUBLIC_DIR = path.join(PROJECT_ROOT, 'src', 'control', 'public');

/** The body of `POST /api/chat`: a message typed by a local viewer. */
export const localChatSchema = z.strictObject({
  user: z.string().trim().min(1, 'a user name is required').max(25).regex(/^[\p{L}\p{N}_ .-]+$/u, 'letters, digits, space, _ . - only'),
  text: z.string().min(1, 'text is required').max(2000, 'at most 2000 characters'),
  channel: z.string().regex(/^[a-z0-9_-]{1,32}$/).optional(),
});


type Next = () => void;
const open = (_req: Request, _res: Response, next: Next) => next();

/** A configured channel named by the request, the default when it names none, or undefined. */
function channelOf(config: Config, asked: unknown): string | undefined {
  if (asked === undefined) return config.defaultChannel;
  return typeof asked === 'string' && Object.hasOwn(config.channels, asked) ? asked : undefined;
}

function unknownChannel(res: Response, asked: unknown): void {
  res.status(400).json({ error: 'unknown channel', problems: [`channel: no channel ${JSON.stringify(String(asked).slice(0, 64))}`] });
}

/**
 * Build the control app (exported for tests that mount it on an ephemeral port). Every answer is
 * unframeable; every request must name this server as its Host; requests other sites' pages make a
 * browser send are refused where they could act or read; with an admin token, everything but
 * health and the overlay (its own read-only token) needs it.
 */
export function createControlApp(ctx: ProcessContext) {
  const { config, redis, keys, log } = ctx;
  const app = express();
  app.disable('x-powered-by');
  const matches = hostMatcher(config.control.host, config.control.allowedHosts);
  app.use(securityHeaders);
  app.use(checkHost(matches, log));
  app.use(['/admin', '/api', '/metrics', '/overlay/theme.json', '/overlay/events', '/overlay/avatar.json', '/overlay/avatar'], refuseCrossSite(matches, log));
  mountHealth(app, ctx);

  const streams = new EventStreams({ maxStreams: config.control.maxEventStreams, maxBufferedBytes: config.control.eventBufferBytes }, log, ctx.metrics.registry);
  const subscriber = duplicate(redis);
  void subscriber.psubscribe(keys.events('*'));
  subscriber.on('pmessage', (_pattern: string, redisChannel: string, message: string) => streams.publish(redisChannel.slice(keys.events('').length), message));
  const events = (req: Request, res: Response) => {
    const channel = channelOf(config, req.query.channel);
    if (channel === undefined) return unknownChannel(res, req.query.channel);
    streams.serve(channel, res);
  };

  mountOverlay(app, ctx, events);
  const token = config.control.adminToken;
  if (token) app.use(requireToken(token));
  mountApi(app, ctx, events);
  const live = mountLiveView(app, ctx);
  mountPages(app, ctx);

  const close = async () => {
    streams.closeAll();
    live.closeAll();
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
  return { app, close };
}

/** /healthz and /readyz: open to anyone who can reach the port (probes and alerts), nothing secret. */
function mountHealth(app: express.Express, ctx: ProcessContext): void {
  const { config, redis, keys } = ctx;
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
    // Readiness needs a member of every process that runs a queue (ingest, a broadcaster, each worker kind).
    for (const kind of MEMBER_KINDS) {
      const alive = members.filter((m) => m.kind === kind);
      checks[kind] = { ok: alive.length > 0, detail: { replicas: alive.length } };
    }
    const ok = Object.values(checks).every((c) => c.ok);
    // Informational: an open breaker degrades the voice, never readiness (the fallback chain speaks).
    if (Object.keys(config.tts.engines).length && checks.redis.ok) {
      const breakers = await engineBreakers(redis, keys, config);
      checks.tts = { ok: true, detail: Object.fromEntries(breakers.map((b) => [b.engine, b.state === 'open' ? { breaker: 'open', probeInMs: b.probeInMs } : { breaker: 'closed' }])) };
    }
    res.status(ok ? 200 : 503).json({ ok, checks });
  });
}

/**
 * The overlay for an OBS browser source: the page, its theme, and the live events. With a token it
 * is opened as /overlay?token=<overlay token> (a browser source cannot send headers); that token is
 * read-only and opens nothing else.
 */
function mountOverlay(app: express.Express, ctx: ProcessContext, events: (req: Request, res: Response) => void): void {
  const { config, redis, keys } = ctx;
  const overlayToken = overlayTokenOf(config.control);
  const guard = overlayToken ? requireOverlayToken(overlayToken, config.control.adminToken) : open;
  app.get('/overlay', guard, (_req, res) => res.sendFile(path.join(PUBLIC_DIR, 'overlay.html')));
  app.get('/overlay/theme.json', guard, async (req, res) => {
    const channel = channelOf(config, req.query.channel);
    if (channel === undefined) return unknownChannel(res, req.query.channel);
    const scene = await redis.hget(keys.scene(channel), 'scene').catch(() => null);
    res.json({ ...config.overlay, defaultChannel: config.defaultChannel, channel, scene });
  });
  app.get('/overlay/events', guard, events);
  mountOverlayAvatar(app, ctx, guard);
}

/**
 * The overlay's avatar (overlay.avatar on): its description and the layers of the channel's pack,
 * by layer id only; anything else is a 404.
 */
function mountOverlayAvatar(app: express.Express, ctx: ProcessContext, guard: (req: Request, res: Response, next: Next) => void): void {
  const { config } = ctx;
  const off = (res: Response) => res.status(404).json({ error: 'the overlay shows no avatar (overlay.avatar.enabled is off)' });
  app.get('/overlay/avatar.json', guard, async (req, res) => {
    if (!config.overlay.avatar.enabled) return off(res);
    const channel = channelOf(config, req.query.channel);
    if (channel === undefined) return unknownChannel(res, req.query.channel);
    const info = await overlayAvatarInfo(ctx, channel);
    if (!info) return res.status(503).json({ error: 'the channel\'s avatar pack cannot be read (idolcast config check says why)' });
    res.json(info);
  });
  app.get('/overlay/avatar/:channel/:layer', guard, (req, res) => {
    const { channel, layer } = req.params as Record<string, string>;
    const file = overlayLayerFile(config, channel!, layer!);
    if (!file) return res.status(404).json({ error: 'no such layer' });
    res.sendFile(file, { dotfiles: 'deny' }, (err) => err && !res.headersSent && res.status(404).json({ error: 'no such layer' }));
  });
}

/** /metrics, Bull Board and the JSON API (behind the admin token when there is one). */
function mountApi(app: express.Express, ctx: ProcessContext, events: (req: Request, res: Response) => void): void {
  const { config, redis, keys, queues, log } = ctx;
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

  // Bull Board: inspect, retry, promote, clean every queue of the catalog.
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: allQueues(config, queues).map((q) => new BullMQAdapter(q)), serverAdapter: board });
  app.use('/admin/queues', board.getRouter() as express.Router); // bull-board types its router `any`

  app.get('/api/fleet', async (_req, res) => {
    res.json({ members: await listFleet(redis, keys, config.workers.heartbeatMs) });
  });
  app.get('/api/channels', (_req, res) => {
    res.json({
      defaultChannel: config.defaultChannel,
      // pictureCaption: the picture carries the line on air burned in, so the page draws none over it.
      channels: Object.entries(config.channels).map(([id, c]) => ({ id, title: c.title, live: `/live/${id}/index.m3u8`, lowLatency: `/api/live?channel=${id}`, pictureCaption: c.video.captions && !c.video.audioOnly })),
    });
  });
  // Where the operator finds the overlay's address with its read-only token.
  app.get('/api/overlay', (_req, res) => {
    const overlayToken = overlayTokenOf(config.control);
    res.json({ path: overlayToken ? `/overlay?token=${encodeURIComponent(overlayToken)}` : '/overlay' });
  });
  app.post('/api/chat', limitChat(ctx), express.json({ limit: '16kb' }), acceptChat(ctx));
  app.get('/api/events', events);
  mountAiApi(app, ctx);

  // Body parser failures (bad JSON, too large) answer in JSON like every other API error.
  app.use('/api', (err: { status?: number; type?: string; message?: string }, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (!err.status || err.status >= 500) return next(err);
    const why = err.type === 'entity.parse.failed' ? 'the body is not valid JSON' : err.type === 'entity.too.large' ? 'the body is too large (16 kB at most)' : (err.message ?? 'bad request');
    res.status(err.status).json({ error: 'bad chat message', problems: [why] });
  });
}

/**
 * The local chat box's rate limits, before the body is even read: a bucket per client address
 * and one for all, in memory and bounded. A name the client chooses never keys anything.
 */
function limitChat(ctx: ProcessContext) {
  const rate = ctx.config.control.chatRate;
  const perClient = new RateLimiter(rate.perClient);
  const global = new RateLimiter(rate.global, 1);
  return (req: Request, res: Response, next: Next) => {
    const waitMs = perClient.take(req.socket.remoteAddress ?? 'unknown') || global.take('all');
    if (!waitMs) return next();
    res.setHeader('Retry-After', String(Math.ceil(waitMs / 1000)));
    res.status(429).json({ error: 'too many chat messages; wait a moment', retryAfterS: Math.ceil(waitMs / 1000) });
  };
}

/** Validate a local chat message and enqueue it as a chat event. */
function acceptChat(ctx: ProcessContext) {
  const { config, queues, log } = ctx;
  return async (req: Request, res: Response) => {
    const body = localChatSchema.safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: 'bad chat message', problems: body.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
      return;
    }
    const channel = channelOf(config, body.data.channel);
    if (channel === undefined) return unknownChannel(res, body.data.channel);
    const now = Date.now();
    const login = body.data.user.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    // The user id (which keys the ingest's per-user limits) is the client's, not the chosen name.
    const client = createHash('sha256').update(req.socket.remoteAddress ?? 'unknown').digest('hex').slice(0, 12);
    const event: ChatEvent = {
      platform: 'local', channel, id: randomUUID(), kind: 'message', text: body.data.text, emotes: [], timestamp: now, acceptedAt: now,
      user: { id: `local-${client}`, login, displayName: body.data.user, roles: [] },
    };
    try {
      await queues.enqueue('chat', event);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'could not accept chat message');
      res.status(503).json({ error: 'could not accept the message right now; try again' });
      return;
    }
    res.status(202).json({ id: event.id, utteranceId: `local-${event.id}`, channel });
  };
}

/**
 * The low-latency live view, `GET /api/live?channel=`: the on-air broadcaster's MPEG-TS relayed
 * over chunked HTTP (src/control/live-relay.ts), under /api so the same Host, Origin and token
 * checks apply as to the rest of the API.
 */
function mountLiveView(app: express.Express, ctx: ProcessContext): LiveRelay {
  const { config, log } = ctx;
  const links = Object.fromEntries(Object.entries(config.channels).map(([id, c]) => [id, path.resolve(c.live.dir, id)]));
  const limits = { maxViewers: config.control.maxLiveViewers, maxBufferedBytes: config.control.liveViewerBufferBytes };
  const relay = new LiveRelay(links, limits, log.child({ component: 'live-relay' }), ctx.metrics.registry);
  app.get('/api/live', (req, res) => {
    const channel = channelOf(config, req.query.channel);
    if (channel === undefined) return unknownChannel(res, req.query.channel);
    relay.serve(channel, res);
  });
  return relay;
}

/** The local live view: HLS written by the broadcasters, hls.js and mpegts.js, and the page. */
function mountPages(app: express.Express, ctx: ProcessContext): void {
  for (const [id, c] of Object.entries(ctx.config.channels)) {
    app.use(`/live/${id}`, express.static(path.resolve(c.live.dir, id), { cacheControl: false, setHeaders: (res) => res.setHeader('cache-control', 'no-cache') }));
  }
  app.get('/vendor/hls.min.js', (_req, res) => res.sendFile(require.resolve('hls.js/dist/hls.min.js')));
  app.get('/vendor/mpegts.js', (_req, res) => res.sendFile(require.resolve('mpegts.js/dist/mpegts.js')));
  app.use(express.static(PUBLIC_DIR));
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
  if (!fs.existsSync(path.join(PUBLIC_DIR, 'index.html'))) log.warn('the live page is missing');

  onShutdown(log, config.workers.shutdownTimeoutMs, async () => {
    await close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await ctx.close();
  });
}
