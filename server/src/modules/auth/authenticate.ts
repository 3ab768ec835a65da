import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { AppError } from '../../errors.js';
import { readSessionWithUser, userInstance } from '../users/repo.js';
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
  // One plain read for the session and its user, not two model reads: every request makes it, and a connect
  // storm keeps hundreds in flight at once, whose garbage then outlives them in the heap (idle-socket RSS).
  const session = await readSessionWithUser(ctx.db, claims.sessionId);
  if (
    !session ||
    session.revokedAt !== null ||
    session.expiresAt.getTime() <= Date.now() ||
    String(session.userId) !== claims.userId
  ) {
    throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
  }
  if (!session.user || session.user.releasedAt)
    throw new AppError('UNAUTHORIZED', 'This account is no longer available');
  return { user: userInstance(ctx.models, session.user), sessionId: claims.sessionId };
}
