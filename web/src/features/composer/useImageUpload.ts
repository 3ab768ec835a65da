import type { Attachment } from '@parley/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asApiError, describeError } from '../../api/errors';
import { checkImage, uploadImage, type UploadHandle } from '../../api/upload';

export interface UploadState {
  name: string;
  previewUrl: string;
  /** 0–1 while uploading. */
  progress: number;
  status: 'uploading' | 'ready' | 'error';
  attachment: Attachment | null;
  error: string | null;
}

/**
 * One image attached to the message being written: checked locally, uploaded with progress, then ready to
 * send. The preview's object URL is handed over with the message (`take`), or released when discarded.
 */
export function useImageUpload() {
  const [upload, setUpload] = useState<UploadState | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const handle = useRef<UploadHandle | null>(null);
  const current = useRef<UploadState | null>(null);
  current.current = upload;

  const clear = useCallback((revoke = true) => {
    handle.current?.abort();
    handle.current = null;
    if (revoke && current.current) URL.revokeObjectURL(current.current.previewUrl);
    setUpload(null);
  }, []);

  useEffect(() => () => clear(), [clear]);

  const attach = useCallback(
    (files: File[]) => {
      const file = files[0];
      if (!file) return;
      const bad = checkImage(file);
      if (bad) {
        setProblem(bad);
        return;
      }
      setProblem(files.length > 1 ? 'One image per message: the first one is attached.' : null);
      clear();
      const previewUrl = URL.createObjectURL(file);
      setUpload({
        name: file.name,
        previewUrl,
        progress: 0,
        status: 'uploading',
        attachment: null,
        error: null,
      });
      const h = uploadImage(file, (progress) =>
        setUpload((u) => (u && u.previewUrl === previewUrl ? { ...u, progress } : u)),
      );
      handle.current = h;
      h.promise.then(
        (attachment) => {
          if (handle.current !== h) return;
          handle.current = null;
          setUpload((u) =>
            u && u.previewUrl === previewUrl ? { ...u, progress: 1, status: 'ready', attachment } : u,
          );
        },
        (err: unknown) => {
          if (handle.current !== h) return;
          handle.current = null;
          URL.revokeObjectURL(previewUrl);
          setUpload(null);
          const e = asApiError(err);
          setProblem(
            e.code === 'PAYLOAD_TOO_LARGE'
              ? `"${file.name}" is too large. Images can be 5 MB at most.`
              : e.code === 'UNSUPPORTED_MEDIA_TYPE'
                ? `"${file.name}" is not a JPEG, PNG, GIF or WebP image.`
                : `The image was not uploaded: ${describeError(e)}`,
          );
        },
      );
    },
    [clear],
  );

  /** Hands the ready attachment (and its preview URL) to a message being sent. */
  const take = useCallback(() => {
    const u = current.current;
    if (!u || u.status !== 'ready') return null;
    handle.current = null;
    setUpload(null);
    return { attachment: u.attachment!, previewUrl: u.previewUrl };
  }, []);

  return { upload, problem, setProblem, attach, clear, take };
}
