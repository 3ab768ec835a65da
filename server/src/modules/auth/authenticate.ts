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
  // A plain read, not a model instance: every request and handshake makes it, and a connect storm keeps hundreds
  // in flight at once, whose garbage then outlives them in the heap (idle-socket RSS, docs/PERFORMANCE.md).
  const [session] = await ctx.db.read<{
    userId: number | string;
    expiresAt: Date | string;
    revokedAt: unknown;
  }>('SELECT "userId", "expiresAt", "revokedAt" FROM sessions WHERE id = $id', { id: claims.sessionId });
  if (
    !session ||
    (session.revokedAt !== null && session.revokedAt !== undefined) ||
    new Date(session.expiresAt).getTime() <= Date.now() ||
    String(session.userId) !== claims.userId
  ) {
    throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
  }
  const user = await ctx.models.User.findByPk(Number(claims.userId));
  if (!user || user.releasedAt) throw new AppError('UNAUTHORIZED', 'This account is no longer available');
  return { user, sessionId: claims.sessionId };
}
