import jwt from 'jsonwebtoken';
import type { TestServer } from '../../src/test-support/server.js';

/*
 * Access tokens as an attacker would handle them: decoded without checking, re-encoded by hand, or signed like
 * the server signs them (its secret, issuer and audience) with one thing changed.
 */

/** The claims of a token, unchecked. */
export const decodeToken = (token: string) => jwt.decode(token) as jwt.JwtPayload;

/** base64url of a JSON object: one part of a hand-made token. */
export const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Signs claims like `server` does (HS256, its secret, issuer and audience), unless `opts`/`secret` say otherwise. */
export function signLike(
  server: TestServer,
  claims: object,
  opts: jwt.SignOptions = {},
  secret: string = server.config.jwtSecret,
): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', issuer: 'parley', audience: 'parley-api', ...opts });
}
