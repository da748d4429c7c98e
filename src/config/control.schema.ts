import { z } from 'zod';

const rateSchema = z.strictObject({ burst: z.number().int().min(1).max(10_000), perMinute: z.number().int().min(1).max(600_000) });

/** The control server: address, tokens, the hosts it answers to, limits on event streams and chat posts. */
export const controlSchema = z
  .strictObject({
    /** Address the control server binds; anything but loopback needs `adminToken` (env HOST). */
    host: z.string().default('127.0.0.1'),
    /** Port of the control server: dashboard, page, API, metrics (env PORT). */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Bearer token for everything but /healthz, /readyz and the overlay; required when bound beyond loopback (env ADMIN_TOKEN). */
    adminToken: z.string().default(''),
    /**
     * Read-only token of the overlay (`/overlay?token=…`), opening nothing else (env OVERLAY_TOKEN);
     * empty: derived from the admin token (GET /api/overlay tells the address), or none without one.
     */
    overlayToken: z.string().default(''),
    /**
     * Further `Host` names the server answers to, `name` (any port) or `name:port`: a reverse proxy's
     * name, a Compose service name, a remapped port (env ALLOWED_HOSTS, comma-separated). The bound
     * address and, on loopback, 127.0.0.1 / localhost / [::1] always are.
     */
    allowedHosts: z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+)(:\d{1,5})?$/, 'a host name, or host:port')).default([]),
    /** Live event streams (live page, overlays) open at once; past it a new one gets 503. */
    maxEventStreams: z.number().int().min(1).max(100_000).default(200),
    /** Bytes an event-stream client may leave unread before it is dropped. */
    eventBufferBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(256 * 1024),
    /** Low-latency live view players (GET /api/live) at once, all channels; past it 503 and the page plays HLS. 0: off. */
    maxLiveViewers: z.number().int().min(0).max(10_000).default(100),
    /** Bytes of stream a low-latency viewer may leave unread before it is dropped (its page reconnects). */
    liveViewerBufferBytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(1024 * 1024),
    /** POST /api/chat: a token bucket per client address and one for all clients; past either, 429 with Retry-After. */
    chatRate: z
      .strictObject({ perClient: rateSchema.prefault({ burst: 5, perMinute: 20 }), global: rateSchema.prefault({ burst: 30, perMinute: 240 }) })
      .prefault({}),
  })
  .prefault({});
