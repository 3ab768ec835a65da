import type { Attachment as AttachmentDto } from '@parley/protocol';
import type { Attachment } from '../../db/models.js';
import { iso } from '../../http/present.js';

/** Where an attachment's bytes are served; the id is random, so the URL cannot be guessed. */
export const attachmentUrl = (id: string) => `/api/uploads/${id}`;
export const thumbnailUrl = (id: string) => `/api/uploads/${id}/thumbnail`;

/** Allowlist of what clients see of an attachment. */
export function presentAttachment(a: Attachment): AttachmentDto {
  return {
    id: a.id,
    url: attachmentUrl(a.id),
    thumbnailUrl: thumbnailUrl(a.id),
    mime: a.mime,
    size: a.size,
    width: a.width,
    height: a.height,
    expiresAt: iso(a.expiresAt),
  };
}
