import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { AppError } from '../../errors.js';
import { verifyAccessToken } from './tokens.js';

/** The authenticated caller of a request or socket. */
export interface Actor {
  user: User;
  sessionId: string;
}

/** Resolves an `Authorization` header. No header: null. A bad or revoked token: throws. */
export async function authenticateBearer(ctx: AppContext, header: string | undefined): Promise<Actor | null> {
  if (header === undefined) return null;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header.trim());
  if (!m) throw new AppError('UNAUTHORIZED', 'Use "Authorization: Bearer <accessToken>"');
  return authenticateToken(ctx, m[1]!);
}

/**
 * Verifies an access token and that its session is still alive, so a logout or a revoked family takes effect at
 * once instead of when the access token expires.
 */
export async function authenticateToken(ctx: AppContext, token: string): Promise<Actor> {
  const claims = verifyAccessToken(ctx.config, token);
  const session = await ctx.models.Session.findByPk(claims.sessionId);
  if (
    !session ||
    session.revokedAt ||
    session.expiresAt.getTime() <= Date.now() ||
    String(session.userId) !== claims.userId
  ) {
    throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
  }
  const user = await ctx.models.User.findByPk(Number(claims.userId));
  if (!user || user.releasedAt) throw new AppError('UNAUTHORIZED', 'This account is no longer available');
  return { user, sessionId: session.id };
}
