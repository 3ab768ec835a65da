import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Attachment as AttachmentDto } from '@parley/protocol';
import busboy from 'busboy';
import type { Request } from 'express';
import { Op, type Transaction, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Attachment, User } from '../../db/models.js';
import { inTx, type After } from '../../db/unit-of-work.js';
import { AppError, notFound } from '../../errors.js';
import { processImage, sniff } from './images.js';
import { isAvatar, NEVER_EXPIRES, presentAttachment } from './presenter.js';
import type { ImageQueue } from './queue.js';
import type { BlobStore } from './storage.js';
import type { UploadUrls } from './urls.js';

/** What the uploads module needs at run time, built once by createApp. */
export interface Uploads {
  store: BlobStore;
  urls: UploadUrls;
  /** Bounds image work on libuv's thread pool (queue.ts). */
  images: ImageQueue;
}

/** Random, URL-safe, 128-bit: upload URLs cannot be guessed. */
const newId = () => randomBytes(16).toString('base64url');
const MULTIPART_OVERHEAD = 64 * 1024;

function storageError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new AppError('STORAGE_FULL', 'The server has no room for uploads right now');
  return err;
}

/**
 * Streams the `file` part of a multipart request to a temp file, enforcing the size limit while reading, so
 * memory stays flat whatever is sent. Resolves with the number of bytes received. On failure it settles only once
 * the temp file is closed, so that the caller's clean-up removes it for good and no descriptor is left open.
 */
function receiveFile(ctx: AppContext, req: Request, tmp: string): Promise<number> {
  const max = ctx.config.uploadMaxBytes;
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    let received = 0;
    let fileSeen = false;
    let out: WriteStream | null = null;
    /** Settles once the temp file is written and closed, or abandoned and closed. */
    let writing: Promise<unknown> = Promise.resolve();
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe();
      req.resume(); // drain what is left so the answer can be read
      // Not synchronously: busboy may be inside its own write (emitting 'limit') and still use its part stream.
      setImmediate(() => {
        bb?.destroy();
        out?.destroy(); // the pipeline then destroys the part's stream too
        void writing.then(() => reject(err));
      });
    };
    let bb: busboy.Busboy | undefined;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: max, files: 1, fields: 4, parts: 5 } });
    } catch {
      return reject(
        new AppError('VALIDATION_ERROR', 'Send multipart/form-data with the image in a field named "file"'),
      );
    }
    bb.on('file', (name, stream) => {
      if (name !== 'file' || fileSeen || settled) return void stream.resume();
      fileSeen = true;
      stream.on('data', (chunk: Buffer) => (received += chunk.length));
      stream.on('limit', () =>
        fail(
          new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${Math.floor(max / 1024 / 1024)} MiB`),
        ),
      );
      const file = createWriteStream(tmp, { flags: 'wx' });
      out = file;
      const closed = new Promise<void>((done) => file.once('close', done));
      writing = Promise.all([
        pipeline(stream, file).catch((err: unknown) => {
          // A system error (ENOSPC, EIO…) comes from the file system; the others from the multipart stream.
          const code = (err as NodeJS.ErrnoException | null)?.code;
          fail(
            code && !code.startsWith('ERR_')
              ? storageError(err)
              : new AppError('VALIDATION_ERROR', 'The upload is not valid multipart data'),
          );
        }),
        closed,
      ]);
    });
    bb.on('error', () => fail(new AppError('VALIDATION_ERROR', 'The upload is not valid multipart data')));
    bb.on('close', async () => {
      await writing;
      if (settled) return;
      if (!fileSeen) return fail(new AppError('VALIDATION_ERROR', 'Send the image in a field named "file"'));
      if (received === 0) return fail(new AppError('VALIDATION_ERROR', 'The file is empty'));
      settled = true;
      resolve(received);
    });
    req.on('close', () => {
      if (!req.complete) fail(new AppError('VALIDATION_ERROR', 'The upload was interrupted'));
    });
    req.pipe(bb);
  });
}

/** POST /api/uploads: receive, check by bytes, clean and store an image; 201 with its Attachment. */
export async function upload(ctx: AppContext, user: User, req: Request): Promise<AttachmentDto> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > ctx.config.uploadMaxBytes + MULTIPART_OVERHEAD) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `The file is larger than ${Math.floor(ctx.config.uploadMaxBytes / 1024 / 1024)} MiB`,
    );
  }
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Send multipart/form-data with the image in a field named "file"',
    );
  }
  await ctx.limits.take('upload', user.id);

  const id = newId();
  const base = path.join(ctx.uploads.store.tempDir(), id);
  const [raw, image, thumb] = [`${base}.upload`, `${base}.image`, `${base}.thumb`];
  try {
    await receiveFile(ctx, req, raw);
    // Received first (network → disk costs no pool thread), then decoded when the queue gives a slot.
    const processed = await ctx.uploads.images.run(user.id, async () => {
      const mime = await sniff(raw);
      return processImage(raw, mime, image, thumb, ctx.config.uploadMaxPixels).catch((err) => {
        throw storageError(err);
      });
    });
    const { size } = await stat(image);
    await ctx.uploads.store.putFile(id, image).catch((err) => {
      throw storageError(err);
    });
    await ctx.uploads.store.putFile(`${id}.thumb`, thumb).catch((err) => {
      throw storageError(err);
    });
    const attachment = await inTx(ctx, (t) =>
      ctx.models.Attachment.create(
        {
          id,
          ownerId: user.id,
          messageId: null,
          roomId: null,
          mime: processed.mime,
          size,
          width: processed.width,
          height: processed.height,
          storageKey: id,
          thumbnailKey: `${id}.thumb`,
          expiresAt: new Date(Date.now() + ctx.config.uploadTtlHours * 3600_000),
          expiredAt: null,
        },
        { transaction: t },
      ),
    );
    return presentAttachment(attachment, ctx.uploads.urls);
  } catch (err) {
    await Promise.all([ctx.uploads.store.delete(id), ctx.uploads.store.delete(`${id}.thumb`)]).catch(
      () => undefined,
    );
    throw err;
  } finally {
    await Promise.all([raw, image, thumb].map((f) => rm(f, { force: true })));
  }
}

/** An attachment that is (still) retrievable, or null. Avatars never expire. */
export async function findLive(ctx: AppContext, id: string): Promise<Attachment | null> {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
  const a = await ctx.models.Attachment.findByPk(id);
  if (!a || a.expiredAt || a.expiresAt.getTime() <= Date.now()) return null;
  return a;
}

/**
 * May this request see the attachment? An avatar: anyone signed in (bearer token or the media cookie), never a
 * signature alone. Any other image: a valid signature (from a message the caller was shown), or by bearer token
 * its owner or a member of its room.
 */
export async function canView(
  ctx: AppContext,
  a: Attachment,
  signedFor: number,
  viewer: User | null,
): Promise<boolean> {
  if (isAvatar(a)) return viewer !== null;
  if (signedFor > 0) return true;
  if (!viewer) return false;
  if (viewer.id === a.ownerId) return true;
  if (a.roomId === null) return false;
  const room = await ctx.models.Room.findByPk(a.roomId);
  if (room?.kind === 'public') return true;
  return (await ctx.models.Membership.count({ where: { roomId: a.roomId, userId: viewer.id } })) > 0;
}

/**
 * Makes an upload the user's avatar, in the caller's transaction: it stops expiring. Only an upload of the user's
 * own that no message carries: an image that is both would lose its file when either goes (and a message's image
 * would never expire).
 */
export async function adoptAsAvatar(ctx: AppContext, t: Transaction, user: User, id: string): Promise<void> {
  const a = await findLive(ctx, id);
  if (!a || a.ownerId !== user.id || a.messageId !== null) throw notFound('Upload not found');
  // Conditional: a send racing to attach the same upload makes exactly one of the two win.
  const [adopted] = await ctx.models.Attachment.update(
    { expiresAt: NEVER_EXPIRES },
    { where: { id: a.id, messageId: null, expiredAt: null }, transaction: t },
  );
  if (adopted !== 1) throw notFound('Upload not found');
}

/**
 * Retires attachments at once, in the caller's transaction: the rows are marked expired (every node reads them
 * before serving, so the signed URL and the id answer 404 from the moment this commits, on every node) and the
 * files are unlinked once it has committed, before the caller answers (`inTx` runs its effects first). The
 * uploads directory is one for all nodes (docs/DECISIONS.md D12), so that one unlink removes them everywhere.
 * Used when a message, its room or an avatar goes (docs/DECISIONS.md, issue 13).
 */
export async function discardAttachments(
  ctx: AppContext,
  t: Transaction,
  after: After,
  where: WhereOptions<Attachment>,
): Promise<number> {
  const rows = await ctx.models.Attachment.findAll({
    where: { [Op.and]: [where, { expiredAt: null }] },
    attributes: ['id', 'storageKey', 'thumbnailKey'],
    transaction: t,
  });
  if (!rows.length) return 0;
  await ctx.models.Attachment.update(
    { expiredAt: new Date() },
    { where: { id: rows.map((a) => a.id), expiredAt: null }, transaction: t },
  );
  after(() => removeFiles(ctx, rows));
  return rows.length;
}

/** Unlinks attachments' files; a failure is logged (the row already refuses them; the sweep does not retry). */
async function removeFiles(ctx: AppContext, rows: Pick<Attachment, 'id' | 'storageKey' | 'thumbnailKey'>[]) {
  await Promise.all(
    rows
      .flatMap((a) => [a.storageKey, a.thumbnailKey])
      .map((key) =>
        ctx.uploads.store.delete(key).catch((err: unknown) => {
          ctx.logger.error({ err, key }, 'could not remove a discarded upload');
        }),
      ),
  );
}

/**
 * Removes expired uploads: marks each expired with a conditional update first, so that when several nodes sweep
 * at once exactly one deletes each file. Messages keep their text and show the image as expired. Works through
 * the backlog `batch` rows at a time (at most `maxBatches` of them per call, so one call stays bounded).
 */
export async function sweepExpired(
  ctx: AppContext,
  now = new Date(),
  batch = 200,
  maxBatches = 50,
): Promise<number> {
  let removed = 0;
  for (let round = 0; round < maxBatches; round++) {
    const due = await ctx.models.Attachment.findAll({
      where: { expiresAt: { [Op.lte]: now }, expiredAt: null },
      order: [['expiresAt', 'ASC']],
      limit: batch,
      attributes: ['id', 'storageKey', 'thumbnailKey'],
    });
    for (const a of due) {
      const [claimed] = await inTx(ctx, (t) =>
        ctx.models.Attachment.update(
          { expiredAt: now },
          { where: { id: a.id, expiredAt: null }, transaction: t },
        ),
      );
      if (claimed !== 1) continue; // another sweeper got it
      await ctx.uploads.store.delete(a.storageKey);
      await ctx.uploads.store.delete(a.thumbnailKey);
      removed++;
    }
    if (due.length < batch) break;
  }
  return removed;
}
