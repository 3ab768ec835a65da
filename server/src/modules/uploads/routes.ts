import { pipeline } from 'node:stream/promises';
import { fileRoutes, routes } from '@parley/protocol';
import type { Request, Response, Router } from 'express';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { mount } from '../../http/route.js';
import { authenticateBearer } from '../auth/authenticate.js';
import { canView, findLive, upload } from './service.js';

/** Most a browser may cache an image; also bounded by how long its signature lasts. */
const MAX_CACHE_SEC = 7 * 86400;

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
  const signedFor = ctx.uploads.urls.validFor(a.id, req.query.exp, req.query.sig);
  const viewer =
    signedFor > 0 ? null : await authenticateBearer(ctx, req.headers.authorization).catch(() => null);
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
  router.get(fileRoutes.getUpload.path, (req, res, next) => serve(ctx, req, res, 'image').catch(next));
  router.get(fileRoutes.getUploadThumbnail.path, (req, res, next) =>
    serve(ctx, req, res, 'thumbnail').catch(next),
  );
}
