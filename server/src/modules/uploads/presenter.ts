import type { Attachment as AttachmentDto } from '@parley/protocol';
import type { Attachment } from '../../db/models.js';
import { iso } from '../../http/present.js';
import type { UploadUrls } from './urls.js';

/** Avatars do not expire; they carry this date instead of a real expiry. */
export const NEVER_EXPIRES = new Date('9999-12-31T00:00:00.000Z');

/** Is this attachment an avatar (adopted, so never expiring)? */
export const isAvatar = (a: Pick<Attachment, 'expiresAt'>) =>
  a.expiresAt.getTime() >= NEVER_EXPIRES.getTime();

/**
 * Where an avatar is served: to signed-in users only (bearer token, or the web client's media cookie: see
 * uploads/routes.ts), so its URL carries no signature and stays the same while the avatar does.
 */
export const attachmentUrl = (id: string) => `/api/uploads/${id}`;

/** The columns presentAttachment reads (a model instance or a raw row both fit). */
export type AttachmentFields = Pick<
  Attachment,
  'id' | 'mime' | 'size' | 'width' | 'height' | 'expiresAt' | 'expiredAt'
>;

/** Allowlist of what clients see of an attachment, with signed URLs. */
export function presentAttachment(a: AttachmentFields, urls: UploadUrls): AttachmentDto {
  const q = urls.query(a.id);
  const never = a.expiresAt.getTime() >= NEVER_EXPIRES.getTime();
  return {
    id: a.id,
    url: `/api/uploads/${a.id}?${q}`,
    thumbnailUrl: `/api/uploads/${a.id}/thumbnail?${q}`,
    mime: a.mime,
    size: a.size,
    width: a.width,
    height: a.height,
    expiresAt: never ? null : iso(a.expiresAt),
    expired: a.expiredAt !== null || (!never && a.expiresAt.getTime() <= Date.now()),
  };
}
