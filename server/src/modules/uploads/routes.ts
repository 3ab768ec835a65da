import { pipeline } from 'node:stream/promises';
import { fileRoutes, routes } from '@parley/protocol';
import cookieParser from 'cookie-parser';
import type { CookieOptions, Request, Response, Router } from 'express';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { mount } from '../../http/route.js';
import { authenticateBearer, authenticateToken, type Actor } from '../auth/authenticate.js';
import { isAvatar } from './presenter.js';
import { canView, findLive, upload } from './service.js';

/** Most a browser may cache an image; also bounded by how long its signature lasts. */
const MAX_CACHE_SEC = 7 * 86400;

/**
 * The web client's sign-in for images: `<img>` sends no Authorization header, and an avatar (served to signed-in
 * users only) has no signature. Every session answer (sign-in, refresh) sets this cookie to the access token,
 * httpOnly, same-site only, sent to `/api/uploads` only and expiring with the token; the web client's refresh
 * (a minute before expiry) renews it, sign-out clears it. Only the image routes read it, and only for GETs, so it
 * can neither act for the user nor be read by scripts. API clients send their bearer token instead.
 */
export const MEDIA_COOKIE = 'parley_media';
const MEDIA_PATH = '/api/uploads';

function mediaCookieOptions(ctx: AppContext, req: Request): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure || ctx.config.env === 'production',
    path: MEDIA_PATH,
    maxAge: ctx.config.accessTokenTtlSec * 1000,
  };
}

/** Sets the media cookie beside a session answer (auth routes). */
export function setMediaCookie(ctx: AppContext, req: Request, res: Response, accessToken: string): void {
  res.cookie(MEDIA_COOKIE, accessToken, mediaCookieOptions(ctx, req));
}

/** Clears it (sign-out, a refused refresh). */
export function clearMediaCookie(res: Response): void {
  res.clearCookie(MEDIA_COOKIE, { path: MEDIA_PATH });
}

/** Who asks, by bearer token or else the media cookie; null when neither is there or valid. */
async function viewerOf(ctx: AppContext, req: Request): Promise<Actor | null> {
  if (req.headers.authorization !== undefined)
    return authenticateBearer(ctx, req.headers.authorization).catch(() => null);
  const cookie = (req.cookies as Record<string, string> | undefined)?.[MEDIA_COOKIE];
  return cookie ? authenticateToken(ctx, cookie).catch(() => null) : null;
}

/**
 * Serves the bytes with the stored type and nothing a browser could run: nosniff, a CSP that allows nothing,
 * and no inline rendering of anything but the image itself.
 */
async function serve(
  ctx: AppContext,
  req: Request,
  res: Response,
  variant: 'image' | 'thumbnail',
): Promise<void> {
  const id = String(req.params.id);
  const a = await findLive(ctx, id);
  if (!a) throw new AppError('NOT_FOUND', 'This image does not exist or has expired');
  // An avatar is for signed-in users only: a signature (the uploader's own answer carried one) does not do.
  const signedFor = isAvatar(a) ? 0 : ctx.uploads.urls.validFor(a.id, req.query.exp, req.query.sig);
  const viewer = signedFor > 0 ? null : await viewerOf(ctx, req);
  if (!(await canView(ctx, a, signedFor, viewer?.user ?? null))) {
    throw new AppError('NOT_FOUND', 'This image does not exist or has expired');
  }
  const blob = await ctx.uploads.store.open(variant === 'image' ? a.storageKey : a.thumbnailKey);
  if (!blob) throw new AppError('NOT_FOUND', 'This image does not exist or has expired');
  const maxAge = Math.min(
    MAX_CACHE_SEC,
    signedFor || MAX_CACHE_SEC,
    Math.floor((a.expiresAt.getTime() - Date.now()) / 1000),
  );
  res.status(200);
  res.setHeader('Content-Type', variant === 'image' ? a.mime : 'image/webp');
  res.setHeader('Content-Length', String(blob.size));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Content-Disposition', 'inline');
  res.setHeader('Cache-Control', `private, max-age=${Math.max(0, maxAge)}, immutable`);
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  // pipeline, not pipe: a client that goes away mid-file destroys the file stream too (its descriptor is closed),
  // and a read error ends the response instead of leaving it hanging.
  await pipeline(blob.stream, res).catch(() => {
    blob.stream.destroy();
    res.destroy();
  });
}

export function uploadRoutes(router: Router, ctx: AppContext): void {
  mount(router, ctx, routes.upload, async ({ actor, req }) => upload(ctx, actor.user, req));
  const cookies = cookieParser();
  router.get(fileRoutes.getUpload.path, cookies, (req, res, next) =>
    serve(ctx, req, res, 'image').catch(next),
  );
  router.get(fileRoutes.getUploadThumbnail.path, cookies, (req, res, next) =>
    serve(ctx, req, res, 'thumbnail').catch(next),
  );
}
