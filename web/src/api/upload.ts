import type { Attachment } from '@parley/protocol';
import { LIMITS } from '../lib/limits';
import { freshToken, refreshSession } from '../features/auth/session';
import { ApiError } from './errors';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Problems we can tell before uploading. The server decides by the bytes; this is only quick feedback. */
export function checkImage(file: File): string | null {
  if (file.type && !IMAGE_TYPES.includes(file.type)) {
    return `"${file.name}" is not an image we can send. Use JPEG, PNG, GIF or WebP.`;
  }
  if (file.size > LIMITS.uploadMaxBytes) {
    const mb = (file.size / 1024 / 1024).toFixed(1);
    return `"${file.name}" is too large (${mb} MB). Images can be 5 MB at most.`;
  }
  return null;
}

export interface UploadHandle {
  promise: Promise<Attachment>;
  abort(): void;
}

/** POST /api/uploads with XMLHttpRequest, for its upload progress events. Retries once on an expired token. */
export function uploadImage(file: File, onProgress: (fraction: number) => void): UploadHandle {
  let xhr: XMLHttpRequest | null = null;
  let aborted = false;
  const attempt = (token: string | null) =>
    new Promise<{ status: number; body: unknown; retryAfter?: number }>((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/uploads');
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () =>
        resolve({
          status: xhr!.status,
          body: xhr!.response,
          retryAfter: Number(xhr!.getResponseHeader('Retry-After')) || undefined,
        });
      xhr.onerror = () => reject(new ApiError('NETWORK', 'The upload failed: cannot reach the server.'));
      xhr.onabort = () => reject(new ApiError('NETWORK', 'Upload cancelled.'));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    });

  const promise = (async () => {
    let res = await attempt(await freshToken());
    const code = (res.body as { error?: { code?: string } } | null)?.error?.code;
    if (res.status === 401 && code === 'TOKEN_EXPIRED' && !aborted && (await refreshSession(true))) {
      onProgress(0);
      res = await attempt(await freshToken());
    }
    if (res.status === 201) return res.body as Attachment;
    throw ApiError.fromBody(res.body, res.status, res.retryAfter);
  })();
  return {
    promise,
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}
