import type * as FileTypeNs from 'file-type';
import type { Metadata, Sharp } from 'sharp';
import type * as SharpNs from 'sharp';
import { AppError } from '../../errors.js';

/*
 * sharp and file-type are loaded at the first upload, not at start: together they are about a tenth of a second of
 * a cold start, and many nodes restart far more often than they see their first image.
 */
let sharpModule: Promise<typeof SharpNs> | undefined;
const loadSharp = async () =>
  (
    await (sharpModule ??= import('sharp').then((m) => {
      // libvips' operation cache keeps recent images' buffers (up to 50 MB and 100 operations) for re-use we never
      // make: each upload is decoded once. Off, so that memory goes back once an upload is done (T1).
      m.default.cache(false);
      // One libvips thread per image (sharp's own default on glibc, made explicit whatever the allocator): image
      // work then costs at most IMAGE_CONCURRENCY cores, and the database keeps CPU as well as threads.
      m.default.concurrency(1);
      return m;
    }))
  ).default;
let fileTypeModule: Promise<typeof FileTypeNs> | undefined;
const loadFileType = () => (fileTypeModule ??= import('file-type'));

/** The only types we accept, decided by the bytes. SVG (scriptable) and everything else are refused. */
export const ACCEPTED_MIME = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;
export type ImageMime = (typeof ACCEPTED_MIME)[number];

/**
 * The default pixel cap (UPLOAD_MAX_PIXELS): images above it are refused before they are decoded. 40 MP is more than
 * any screen shows (8K is 33 MP) and than a phone's photo (12 MP; 24–32 MP in its large modes); what it refuses is a
 * camera's full-size RAW export or a crafted image whose only purpose is to cost us memory and CPU.
 */
export const MAX_INPUT_PIXELS = 40_000_000;
export const THUMBNAIL_SIZE = 320;

export interface ProcessedImage {
  mime: ImageMime;
  width: number;
  height: number;
}

/** Sniffs the real type from the first bytes; the filename and the client's Content-Type are ignored. */
export async function sniff(file: string): Promise<ImageMime> {
  const { fileTypeFromFile } = await loadFileType();
  const type = await fileTypeFromFile(file).catch(() => undefined);
  if (!type || !(ACCEPTED_MIME as readonly string[]).includes(type.mime)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Only JPEG, PNG, GIF and WebP images can be uploaded');
  }
  return type.mime as ImageMime;
}

function encoder(img: Sharp, mime: ImageMime): Sharp {
  switch (mime) {
    case 'image/jpeg':
      return img.jpeg({ quality: 85, mozjpeg: true });
    case 'image/png':
      return img.png();
    case 'image/gif':
      return img.gif();
    case 'image/webp':
      return img.webp({ quality: 85 });
  }
}

/**
 * Decodes and re-encodes the image: anything appended to it (a polyglot's payload) and all metadata (EXIF GPS,
 * camera serials) are dropped, orientation is applied to the pixels, and a bomb or a corrupt file is refused.
 * Writes the cleaned image to `out` and a WebP thumbnail to `thumbOut`.
 */
export async function processImage(
  input: string,
  mime: ImageMime,
  out: string,
  thumbOut: string,
  maxPixels = MAX_INPUT_PIXELS,
): Promise<ProcessedImage> {
  const animated = mime === 'image/gif' || mime === 'image/webp';
  const sharp = await loadSharp();
  // sequentialRead: decoded top to bottom in strips, never the whole image in memory unless an operation needs it.
  const open = () =>
    sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', animated, sequentialRead: true });
  let meta: Metadata;
  try {
    meta = await open().metadata();
  } catch (err) {
    throw decodeError(err, maxPixels);
  }
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  if (!meta.width || !frameHeight) throw corrupt();
  if (meta.width * frameHeight * (meta.pages ?? 1) > maxPixels) throw tooManyPixels(maxPixels);
  try {
    const info = await encoder(open().rotate(), mime).toFile(out);
    await open()
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toFile(thumbOut);
    return { mime, width: info.width, height: info.pageHeight ?? info.height };
  } catch (err) {
    throw decodeError(err, maxPixels);
  }
}

const corrupt = () => new AppError('UNSUPPORTED_MEDIA_TYPE', 'The image is corrupt or truncated');
const tooManyPixels = (maxPixels: number) =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `The image has too many pixels (at most ${Math.floor(maxPixels / 1e5) / 10} megapixels)`,
  );

function decodeError(err: unknown, maxPixels: number): AppError {
  const message = err instanceof Error ? err.message : '';
  if (/pixel limit|exceeds pixel/i.test(message)) return tooManyPixels(maxPixels);
  // libvips reports a failed write (a full disk) as a plain message, without an errno code.
  if (/no space left|ENOSPC|quota exceeded|EDQUOT/i.test(message)) {
    return new AppError('STORAGE_FULL', 'The server has no room for uploads right now');
  }
  return corrupt();
}
