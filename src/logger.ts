import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear, so a stream key, OAuth token or API key that
 * reaches a log call by accident is still never written.
 */
const REDACT_PATHS = [
  '*.adminToken', '*.token', '*.authenticationToken', '*.oauth', '*.oauthToken', '*.apiKey', '*.streamKey', '*.password', '*.sentinelPassword', '*.authorization',
  'adminToken', 'token', 'authenticationToken', 'apiKey', 'streamKey', 'password', 'sentinelPassword', 'authorization',
  'req.headers.authorization', 'headers.authorization', '*.headers.authorization',
  'config.control.adminToken', 'config.redis.url',
];

/** Strip credentials from a URL-like string (redis://user:pass@host, rtmp://host/app/KEY). */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@\s]*)@/, '//***@');
}

/** The root logger of a process: JSON lines on stdout (or `destination`), one `component` per child. */
export function createLogger(component: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options = { level, base: { component, pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
