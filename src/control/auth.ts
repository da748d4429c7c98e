import { timingSafeEqual } from 'node:crypto';
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
 * Require the admin token: `Authorization: Bearer <token>` for scripts, or HTTP Basic with the
 * token as password so a browser can open the dashboard (it asks once, then remembers);
 * with `query`, also `?token=<token>` in the address.
 */
export function requireToken(token: string, opts: { query?: boolean } = {}) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    let given = '';
    // `?token=` for pages that cannot send a header (an OBS browser source).
    if (opts.query && typeof req.query.token === 'string') given = req.query.token;
    else if (header.startsWith('Bearer ')) given = header.slice(7).trim();
    else if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString();
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (given && sameSecret(given, token)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="idolcast", charset="UTF-8"');
    res.status(401).json({ error: 'admin token required (Authorization: Bearer <ADMIN_TOKEN>)' });
  };
}
