import { createHash } from 'node:crypto';
import { UniqueConstraintError, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { NameClaim } from '../../db/models.js';
import { AppError } from '../../errors.js';
import { displayNameSkeleton, roomNameSkeleton, usernameSkeleton } from './skeleton.js';

/*
 * Who holds which name key. A key is the digest of a skeleton (skeleton.ts): a skeleton can be far longer than the
 * name (one character may map to eighteen), the digest always fits an index. Usernames and display names share one
 * table with the key as primary key, so that a display name cannot take a key a username holds and vice versa, and
 * so that of two concurrent claims of look-alike names exactly one commits (the unique index decides, not a read).
 */

/** The stored form of a skeleton: SHA-256, base64url (43 characters). */
export const claimKey = (skeleton: string): string =>
  createHash('sha256').update(skeleton).digest('base64url');

/** The key a room name holds (rooms.nameSkeleton, unique among non-direct rooms). */
export const roomNameClaim = (name: string): string => claimKey(roomNameSkeleton(name));

/** The key a username claims. */
export const usernameClaim = (username: string): string => claimKey(usernameSkeleton(username));

/** The key a display name claims beside its owner's username, or null when it claims nothing of its own. */
export function displayNameClaim(displayName: string, username: string): string | null {
  const skeleton = displayNameSkeleton(displayName);
  if (!skeleton) return null;
  const key = claimKey(skeleton);
  return key === usernameClaim(username) ? null : key;
}

/** The refusal when a display name could pass for another user's name (409 CONFLICT, on the field). */
export const displayNameTaken = (): AppError =>
  new AppError('CONFLICT', "That display name looks too much like another user's name", [
    { path: 'displayName', message: "looks too much like another user's name" },
  ]);

/** The claims on any of `keys`. */
export function claimsOn(ctx: AppContext, t: Transaction, keys: string[]): Promise<NameClaim[]> {
  return ctx.models.NameClaim.findAll({ where: { key: keys }, transaction: t });
}

/**
 * Records that `userId` holds `key`. A concurrent claim of the same key (a look-alike registered at the same time)
 * fails the unique index: `conflict()` is thrown, and the transaction rolls back.
 */
export async function addClaim(
  ctx: AppContext,
  t: Transaction,
  claim: { key: string; userId: number; kind: NameClaim['kind'] },
  conflict: () => AppError,
): Promise<void> {
  try {
    await ctx.models.NameClaim.create(claim, { transaction: t });
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw conflict();
    throw err;
  }
}

/** Gives up the user's claims (all of them, or those of one kind). */
export async function dropClaims(
  ctx: AppContext,
  t: Transaction,
  userId: number,
  kind?: NameClaim['kind'],
): Promise<void> {
  await ctx.models.NameClaim.destroy({ where: { userId, ...(kind && { kind }) }, transaction: t });
}
