import { fileRoutes, routes } from '@parley/protocol';
import compression from 'compression';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors.js';

/*
 * The HTTP conventions of the contract (v2, "HTTP conventions") that hold for every route: 405 with `Allow` for a
 * known path asked with the wrong method, `WWW-Authenticate` on 401, `Cache-Control: no-store` on API answers, and
 * compression. `Location` on 201 is set by `mount` (route.ts) from each route's `location` template.
 * The known paths come from the protocol's route tables, so a route added there is covered without more code here.
 */

/** The methods, in the order `Allow` lists them. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
}

/**
 * An Express path (`/api/chatrooms/:id`) as a regular expression that matches what Express routes to it: any
 * letter case and an optional trailing slash (Express's defaults), each `:param` one non-empty segment.
 */
export function pathPattern(expressPath: string): RegExp {
  const source = expressPath
    .split(/(:[A-Za-z_]\w*)/)
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}

/** Every path of the route tables with the methods it answers (HEAD wherever GET, as Express answers it). */
export function knownPaths(
  defs: { method: string; path: string }[] = [...Object.values(routes), ...Object.values(fileRoutes)],
): KnownPath[] {
  const byPath = new Map<string, Set<string>>();
  for (const d of defs) {
    const methods = byPath.get(d.path) ?? new Set<string>();
    methods.add(d.method.toUpperCase());
    if (d.method === 'get') methods.add('HEAD');
    byPath.set(d.path, methods);
  }
  return [...byPath].map(([p, methods]) => ({ pattern: pathPattern(p), methods }));
}

/** The methods a request path may be asked with (the union over every known path it matches), in `Allow` order. */
export function allowedMethods(table: KnownPath[], requestPath: string): string[] {
  const allowed = new Set<string>();
  for (const k of table) if (k.pattern.test(requestPath)) for (const m of k.methods) allowed.add(m);
  return METHOD_ORDER.filter((m) => allowed.has(m));
}

/**
 * After every API route: a path the API knows, asked with a method it does not answer, is a 405 with `Allow`
 * (instead of the 404 it would otherwise fall through to). Unknown paths go on to the 404.
 */
export function methodNotAllowed(table: KnownPath[] = knownPaths()): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const allowed = allowedMethods(table, req.path);
    if (!allowed.length || allowed.includes(req.method)) return next();
    res.setHeader('Allow', allowed.join(', '));
    next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(', ')}`));
  };
}

/** API answers are never stored by caches; an answer that says otherwise (an image) sets its own header later. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * The `WWW-Authenticate` header of a 401 (RFC 9110 requires one on every 401; RFC 6750 gives the Bearer form).
 * `error="invalid_token"` when a bearer token was presented and refused (or has expired); none when the request
 * carried no credentials, as RFC 6750 §3.1 asks.
 */
export function wwwAuthenticate(req: Request, code: string): string {
  const presented = /^bearer\s+\S/i.test(req.headers.authorization ?? '');
  if (code === 'TOKEN_EXPIRED')
    return 'Bearer realm="parley", error="invalid_token", error_description="The access token expired"';
  if (presented && code === 'UNAUTHORIZED')
    return 'Bearer realm="parley", error="invalid_token", error_description="The access token is not valid"';
  return 'Bearer realm="parley"';
}

/**
 * gzip or Brotli, as the client accepts (br first when both are), for compressible types over 1 KiB. Images are
 * already compressed and are left alone (compression's filter). Socket.IO requests never reach Express: engine.io
 * takes them at the HTTP server and compresses its long-polling answers itself (`httpCompression`).
 */
export function compress(): RequestHandler {
  // Brotli quality 4 (compression's default): close to gzip's speed; quality 11 would cost ~1 s per bundle.
  return compression({ threshold: 1024 });
}
