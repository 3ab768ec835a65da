import { routes } from '@parley/protocol';
import type { CookieOptions, Request, Response, Router } from 'express';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { originAllowed } from '../../http/origin.js';
import { mount } from '../../http/route.js';
import { clearMediaCookie, setMediaCookie } from '../uploads/routes.js';
import * as auth from './service.js';

/** The refresh cookie travels only to the auth endpoints, and never to another site. */
export const REFRESH_COOKIE = 'parley_refresh';

function cookieOptions(ctx: AppContext, req: Request): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure || ctx.config.env === 'production',
    path: '/api/auth',
    maxAge: ctx.config.refreshTokenTtlSec * 1000,
  };
}

/** Sets the cookie for the web client; API clients use the body's refreshToken and may ignore it. */
function withCookie<T extends { refreshToken: string; accessToken: string }>(
  ctx: AppContext,
  req: Request,
  res: Response,
  session: T,
): T {
  res.cookie(REFRESH_COOKIE, session.refreshToken, cookieOptions(ctx, req));
  // Images (avatars) are for signed-in users; <img> sends cookies, not headers (uploads/routes.ts).
  setMediaCookie(ctx, req, res, session.accessToken);
  res.setHeader('Cache-Control', 'no-store');
  return session;
}

/**
 * A refresh token from the body, or else from the cookie. The cookie is accepted only from our own origin (or a
 * configured one), so another site cannot make a browser refresh or end a session on its behalf.
 */
function refreshTokenOf(ctx: AppContext, req: Request, body: { refreshToken?: string }): string | undefined {
  if (body.refreshToken) return body.refreshToken;
  const cookie = (req.cookies as Record<string, string> | undefined)?.[REFRESH_COOKIE];
  if (!cookie) return undefined;
  if (!originAllowed(ctx.config, req)) {
    throw new AppError('FORBIDDEN', 'Cross-site request refused');
  }
  return cookie;
}

const metaOf = (req: Request) => ({ userAgent: req.headers['user-agent'] });

export function authRoutes(router: Router, ctx: AppContext): void {
  mount(router, ctx, routes.register, async ({ body, req, res }) =>
    withCookie(ctx, req, res, await auth.register(ctx, body, metaOf(req))),
  );
  mount(router, ctx, routes.login, async ({ body, req, res }) =>
    withCookie(ctx, req, res, await auth.login(ctx, body, metaOf(req))),
  );
  mount(router, ctx, routes.guest, async ({ body, req, res }) =>
    withCookie(ctx, req, res, await auth.guest(ctx, body, metaOf(req))),
  );
  mount(router, ctx, routes.refresh, async ({ body, req, res }) => {
    try {
      return withCookie(ctx, req, res, await auth.refresh(ctx, refreshTokenOf(ctx, req, body)));
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHORIZED') {
        res.clearCookie(REFRESH_COOKIE, { path: '/api/auth' });
        clearMediaCookie(res);
      }
      throw err;
    }
  });
  mount(router, ctx, routes.logout, async ({ body, actor, req, res }) => {
    await auth.logout(ctx, actor?.sessionId ?? null, actor?.user.id ?? null, refreshTokenOf(ctx, req, body));
    res.clearCookie(REFRESH_COOKIE, { path: '/api/auth' });
    clearMediaCookie(res);
  });
  // Every session ends, so the cookies of this browser go too, exactly as after a logout.
  mount(router, ctx, routes.logoutAll, async ({ actor, res }) => {
    await auth.logoutAll(ctx, actor.user.id);
    res.clearCookie(REFRESH_COOKIE, { path: '/api/auth' });
    clearMediaCookie(res);
  });
}
