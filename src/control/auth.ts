import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The overlay's read-only token: the configured one, else derived from the admin token with an
 * HMAC so it stays the same across restarts and replicas without another secret to manage, and
 * knowing it tells nothing about the admin token. Empty when neither token is set (open overlay).
 */
export function overlayTokenOf(control: { adminToken: string; overlayToken: string }): string {
  if (control.overlayToken) return control.overlayToken;
  if (!control.adminToken) return '';
  return createHmac('sha256', control.adminToken).update('idolcast overlay token v1').digest('base64url').slice(0, 32);
}

/** The token of a request's `Authorization` header: Bearer, or HTTP Basic with the token as password. */
function headerToken(req: Request): string {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString();
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return '';
}

/**
 * Require the admin token: `Authorization: Bearer <token>` for scripts and Prometheus, or HTTP
 * Basic with the token as password so a browser can open the dashboard (it asks once, then
 * remembers). Never from the address: a URL ends up in histories, logs and screenshots.
 */
export function requireToken(token: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = headerToken(req);
    if (given && sameSecret(given, token)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="idolcast", charset="UTF-8"');
    res.status(401).json({ error: 'admin token required (Authorization: Bearer <ADMIN_TOKEN>)' });
  };
}

/**
 * Require the overlay token, read-only: `?token=` (an OBS browser source cannot send headers) or
 * a Bearer header; the admin token opens the overlay too, but only from a header.
 */
export function requireOverlayToken(overlayToken: string, adminToken: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const query = typeof req.query.token === 'string' ? req.query.token : '';
    const header = headerToken(req);
    if (query && sameSecret(query, overlayToken)) return next();
    if (header && (sameSecret(header, overlayToken) || (adminToken && sameSecret(header, adminToken)))) return next();
    res.status(401).json({ error: 'overlay token required (/overlay?token=<overlay token>; GET /api/overlay with the admin token gives the address)' });
  };
}
