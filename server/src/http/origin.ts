import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';

/**
 * May a browser page from this request's Origin act with the user's credentials (refresh cookie, socket
 * handshake)? Our own host, or one of CORS_ORIGINS. No Origin header at all means no browser page (native apps,
 * tests), which cannot be driven cross-site.
 */
export function originAllowed(config: Pick<Config, 'corsOrigins'>, req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  const o = origin.replace(/\/$/, '');
  if (config.corsOrigins.includes(o)) return true;
  const host = req.headers.host;
  return host !== undefined && (o === `http://${host}` || o === `https://${host}`);
}
