import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';

export const TOKEN_ISSUER = 'parley';
export const TOKEN_AUDIENCE = 'parley-api';
/** Pinned: a token that names any other algorithm (`none`, RS256 with our secret as a "public key"…) is refused. */
const ALGORITHM = 'HS256' as const;

/*
 * The secret as a KeyObject, made once per secret: given a string, jsonwebtoken first tries it as a PEM public key
 * on every call (a failed parse and a stack trace), which was most of the cost of checking a token.
 */
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** A short-lived access token for `userId` within refresh-token family `sessionId`. */
export function signAccessToken(
  config: Pick<Config, 'jwtSecret' | 'accessTokenTtlSec'>,
  c: AccessClaims,
): string {
  return jwt.sign({ sid: c.sessionId }, keyOf(config.jwtSecret), {
    algorithm: ALGORITHM,
    subject: c.userId,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    expiresIn: config.accessTokenTtlSec,
  });
}

/** Verifies signature, algorithm, issuer, audience and expiry. Throws TOKEN_EXPIRED or UNAUTHORIZED. */
export function verifyAccessToken(config: Pick<Config, 'jwtSecret'>, token: string): AccessClaims {
  let payload: jwt.JwtPayload | string;
  try {
    payload = jwt.verify(token, keyOf(config.jwtSecret), {
      algorithms: [ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
    });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError)
      throw new AppError('TOKEN_EXPIRED', 'The access token has expired');
    throw new AppError('UNAUTHORIZED', 'The access token is not valid');
  }
  if (typeof payload === 'string' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
    throw new AppError('UNAUTHORIZED', 'The access token is not valid');
  }
  return { userId: payload.sub, sessionId: payload.sid };
}

/*
 * Refresh tokens are `<session id>.<generation>.<mac>`. The MAC makes them unforgeable without storing them; the
 * generation says which one of the family is current, so an authentic but older token is proof of reuse.
 */
const macOf = (secret: string, sessionId: string, generation: number) =>
  createHmac('sha256', secret).update(`parley-refresh:${sessionId}:${generation}`).digest('base64url');

export function makeRefreshToken(secret: string, sessionId: string, generation: number): string {
  return `${sessionId}.${generation}.${macOf(secret, sessionId, generation)}`;
}

/** The session and generation of an authentic refresh token, or null for anything else. */
export function parseRefreshToken(
  secret: string,
  token: string,
): { sessionId: string; generation: number } | null {
  const m = /^([0-9a-f-]{36})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return null;
  const [, sessionId, gen, mac] = m as unknown as [string, string, string, string];
  const generation = Number(gen);
  const expected = Buffer.from(macOf(secret, sessionId, generation));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  return { sessionId, generation };
}
