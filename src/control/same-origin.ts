import os from 'node:os';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';
import { isLoopback } from './auth';

/** A `Host` header or an `allowedHosts` entry: a name or IP (IPv6 in brackets), maybe a port. */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i;
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function parseHost(value: string): { name: string; port?: number } | undefined {
  const m = HOST.exec(value.trim());
  return m ? { name: m[1]!.toLowerCase(), port: m[2] ? Number(m[2]) : undefined } : undefined;
}

const bracketed = (address: string) => (address.includes(':') ? `[${address.toLowerCase()}]` : address.toLowerCase());

/** The names this server is reachable by when bound to `bindHost`. */
function boundNames(bindHost: string): string[] {
  if (isLoopback(bindHost)) return [...LOOPBACK_NAMES, bracketed(bindHost)];
  if (!WILDCARDS.has(bindHost)) return [bracketed(bindHost)];
  // A wildcard bind answers on every interface: the machine's own addresses and name.
  const addresses = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [...LOOPBACK_NAMES, ...addresses.filter((a) => !a.includes('%')).map(bracketed), os.hostname().toLowerCase()];
}

/**
 * Decides whether a `Host` (or an `Origin`'s host) names this server: one of the names it is bound
 * to on the port the request arrived on, or a configured `allowedHosts` entry (`name` for any
 * port, `name:port` for that one). Anything else is DNS rebinding or a misrouted request.
 */
export function hostMatcher(bindHost: string, allowedHosts: string[]) {
  const names = new Set(boundNames(bindHost));
  const extra = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (host: string | undefined, localPort: number | undefined): boolean => {
    const parsed = host ? parseHost(host) : undefined;
    if (!parsed) return false;
    const port = parsed.port ?? 80;
    return (names.has(parsed.name) && port === localPort) || extra.has(parsed.name) || extra.has(`${parsed.name}:${port}`);
  };
}

type Matcher = ReturnType<typeof hostMatcher>;

/** Answer only requests addressed to this server by name: the defence against DNS rebinding. */
export function checkHost(matches: Matcher, log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (matches(req.headers.host, req.socket.localPort)) return next();
    log.warn({ method: req.method, path: req.path.slice(0, 200), host: String(req.headers.host).slice(0, 200) }, 'request for another host refused');
    res.status(421).json({
      error: 'this server does not answer to that host name (a DNS rebinding attempt, or a proxy or port mapping not listed in control.allowedHosts / ALLOWED_HOSTS)',
    });
  };
}

/**
 * Refuse requests another site's page makes the browser send: a foreign or opaque `Origin`, or
 * `Sec-Fetch-Site` of another site (another port of the same host is `same-site`, refused too).
 * Scripts and Prometheus send neither header; a page of our own sends `same-origin`.
 */
export function refuseCrossSite(matches: Matcher, log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let foreign = site === 'cross-site' || site === 'same-site';
    if (!foreign && origin !== undefined) {
      const url = URL.canParse(origin) ? new URL(origin) : undefined;
      foreign = !url || !['http:', 'https:'].includes(url.protocol) || !matches(url.host, req.socket.localPort);
    }
    if (!foreign) return next();
    log.warn({ method: req.method, path: req.originalUrl.split('?')[0]!.slice(0, 200), origin: origin?.slice(0, 200), site: site?.slice(0, 40) }, 'cross-site request refused');
    res.status(403).json({ error: 'cross-site request refused: open the control server\'s own pages directly, not from another site' });
  };
}

/** Headers for every answer: no framing anywhere (an OBS browser source is a top-level page, not a frame). */
export function securityHeaders(_req: Request, res: Response, next: NextFunction) {
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The overlay's address carries its token: never hand it on as a referrer.
  res.setHeader('Referrer-Policy', 'no-referrer');
  // Another origin's <script>/<img> cannot pull our JSON or media into its page.
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  next();
}
