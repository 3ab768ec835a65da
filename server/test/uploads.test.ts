import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AttachmentSchema, type Attachment, type Message, type Room, type Session } from '@parley/protocol';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepExpired } from '../src/modules/uploads/service.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../src/test-support/server.js';
import {
  animatedGif,
  exifGpsTags,
  fetchBytes,
  gif,
  html,
  HTML_PAYLOAD,
  jpeg,
  jpegOriented,
  jpegWithGps,
  multipartParts,
  noisePng,
  png,
  pngBomb,
  polyglot,
  svg,
  truncatedPng,
  uploadFile,
  webp,
  type UploadResponse,
} from './helpers/images.js';
import { closeAllSockets, connectSocket, emitAck, nextEvent, waitFor } from './helpers/sockets.js';
import { ISO, expectError, expectStatus } from './helpers/http.js';

/*
 * Image sharing over real HTTP multipart and real sockets: what is accepted and how it is served, what is refused
 * and with which code, that memory stays flat while a big upload streams in, that metadata is stripped, who may see
 * an image, and what expiry leaves behind.
 */

let server: TestServer;
let call: Call;

const ATTACHMENT_KEYS = [
  'expired',
  'expiresAt',
  'height',
  'id',
  'mime',
  'size',
  'thumbnailUrl',
  'url',
  'width',
];
const HOUR_MS = 3600_000;

/** Uploads are rate limited per user (a burst of 30): most tests use a user of their own. */
const freshUser = (prefix = 'u') => register(call, uniqueName(prefix));

const uploadsDir = (s: TestServer = server) => path.join(s.config.dataDir, 'uploads');
const storedFiles = (s: TestServer = server) =>
  readdirSync(uploadsDir(s), { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
const tempFiles = (s: TestServer = server) => readdirSync(path.join(uploadsDir(s), 'tmp'));
const statSize = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0; // renamed or removed meanwhile
  }
};
const attachmentRows = (s: TestServer = server) => s.parley.ctx.models.Attachment.count();

/** Exactly the Attachment fields, the right types, and signed URLs for this id. */
function expectAttachment(a: any, expected: Partial<Attachment> = {}): Attachment {
  expect(Object.keys(a).sort()).toEqual(ATTACHMENT_KEYS);
  expect(() => AttachmentSchema.parse(a)).not.toThrow();
  expect(a.id).toMatch(/^[A-Za-z0-9_-]{22,64}$/);
  expect(a.url).toMatch(new RegExp(`^/api/uploads/${a.id}\\?exp=\\d+&sig=[A-Za-z0-9_-]+$`));
  expect(a.thumbnailUrl).toMatch(
    new RegExp(`^/api/uploads/${a.id}/thumbnail\\?exp=\\d+&sig=[A-Za-z0-9_-]+$`),
  );
  if (a.expiresAt !== null) expect(a.expiresAt).toMatch(ISO);
  expect(a).toMatchObject(expected);
  return a as Attachment;
}

/** Uploads and expects 201; returns the Attachment. */
async function uploaded(s: Session, data: Buffer, opts?: Parameters<typeof uploadFile>[3]) {
  const res = await uploadFile(server.url, s.accessToken, data, opts);
  expectStatus(res, 201);
  return expectAttachment(res.body);
}

async function createRoom(owner: Session, kind: 'public' | 'private' = 'public'): Promise<Room> {
  const res = await call('POST', '/api/chatrooms', {
    token: owner.accessToken,
    body: { name: uniqueName('room'), kind },
  });
  expectStatus(res, 201);
  return res.body;
}

async function addMember(owner: Session, roomId: string, member: Session): Promise<void> {
  expectStatus(
    await call('POST', `/api/chatrooms/${roomId}/members`, {
      token: owner.accessToken,
      body: { userId: member.user.id },
    }),
    200,
  );
}

const postMessage = (s: Session, roomId: string, body: Record<string, unknown>) =>
  call('POST', `/api/chatrooms/${roomId}/messages`, { token: s.accessToken, body });

/** The headers every served image (or thumbnail) must carry. */
function expectSafeHeaders(res: { headers: Headers }, type: string): void {
  expect(res.headers.get('content-type')).toBe(type);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1] ?? 0);
  expect(maxAge, `cache-control: ${res.headers.get('cache-control')}`).toBeGreaterThanOrEqual(3600);
}

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

describe('accepted images', () => {
  const cases: [string, () => Promise<Buffer>, string, number, number, number][] = [
    ['PNG', () => png(64, 48), 'image/png', 64, 48, 1],
    ['JPEG', () => jpeg(64, 48), 'image/jpeg', 64, 48, 1],
    ['GIF', () => gif(64, 48), 'image/gif', 64, 48, 1],
    ['animated GIF', () => animatedGif(40, 30, 3), 'image/gif', 40, 30, 3],
    ['WebP', () => webp(64, 48), 'image/webp', 64, 48, 1],
  ];

  it.each(cases)(
    '%s: 201 with the exact Attachment, served with its type, nosniff, CSP and caching',
    async (_name, make, mime, width, height, pages) => {
      const alice = await freshUser('alice');
      const before = Date.now();
      // The client's filename and Content-Type are wrong on purpose: only the bytes count.
      const a = await uploaded(alice, await make(), { filename: 'holiday.txt', type: 'text/plain' });
      const after = Date.now();
      expect(a).toMatchObject({ mime, width, height, expired: false });
      const ttl = server.config.uploadTtlHours * HOUR_MS;
      const expiresAt = Date.parse(a.expiresAt!);
      expect(expiresAt).toBeGreaterThanOrEqual(before + ttl - 1000);
      expect(expiresAt).toBeLessThanOrEqual(after + ttl + 1000);

      // The signed URL works on its own, as an <img src> would use it.
      const image = await fetchBytes(server.url, a.url);
      expect(image.status).toBe(200);
      expectSafeHeaders(image, mime);
      expect(image.bytes.length).toBe(a.size);
      expect(Number(image.headers.get('content-length'))).toBe(a.size);
      const meta = await sharp(image.bytes, { animated: true }).metadata();
      expect(`image/${meta.format}`).toBe(mime);
      expect(meta.width).toBe(width);
      expect(meta.pageHeight ?? meta.height).toBe(height);
      expect(meta.pages ?? 1).toBe(pages);

      const thumb = await fetchBytes(server.url, a.thumbnailUrl);
      expect(thumb.status).toBe(200);
      expectSafeHeaders(thumb, 'image/webp');
      const tmeta = await sharp(thumb.bytes).metadata();
      expect(tmeta.format).toBe('webp');
      expect(tmeta.width).toBeLessThanOrEqual(320);
      expect(tmeta.height).toBeLessThanOrEqual(320);

      // The owner can also fetch it by bearer token, without the signature.
      const bare = await fetchBytes(server.url, `/api/uploads/${a.id}`, alice.accessToken);
      expect(bare.status).toBe(200);
      expect(bare.bytes.equals(image.bytes)).toBe(true);
    },
  );

  it('makes a WebP thumbnail of at most 320 px on the long side, keeping the aspect ratio', async () => {
    const alice = await freshUser('alice');
    const a = await uploaded(alice, await png(1000, 600));
    expect(a).toMatchObject({ width: 1000, height: 600 });
    const thumb = await fetchBytes(server.url, a.thumbnailUrl);
    expect(thumb.status).toBe(200);
    const meta = await sharp(thumb.bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 320, height: 192 });
  });

  it('gives every upload its own unguessable id', async () => {
    const alice = await freshUser('alice');
    const data = await png(16, 16);
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) ids.add((await uploaded(alice, data)).id);
    expect(ids.size).toBe(3);
  });
});

describe('refused uploads', () => {
  let eve: Session;
  beforeAll(async () => {
    eve = await freshUser('eve');
  });

  /** Refusals leave nothing behind: no row, no stored file, no temp file. */
  async function expectRefused(send: () => Promise<UploadResponse | Res>, status: number, code: string) {
    const rows = await attachmentRows();
    const files = storedFiles().sort();
    const res = await send();
    expectError(res, status, code);
    expect(await attachmentRows()).toBe(rows);
    expect(storedFiles().sort()).toEqual(files);
    await waitFor(() => tempFiles().length === 0, 'the temp directory to be empty');
  }

  it('refuses HTML renamed .png and sent as image/png (415)', async () => {
    await expectRefused(
      () => uploadFile(server.url, eve.accessToken, html(), { filename: 'cat.png', type: 'image/png' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses SVG, even sent as an image (415)', async () => {
    await expectRefused(
      () => uploadFile(server.url, eve.accessToken, svg(), { filename: 'logo.svg', type: 'image/svg+xml' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses a truncated PNG (415)', async () => {
    await expectRefused(
      async () => uploadFile(server.url, eve.accessToken, await truncatedPng(), { type: 'image/png' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses a 20000×20000 decompression bomb (413) without decoding it', async () => {
    const bomb = pngBomb(20_000, 20_000);
    expect(bomb.length).toBeLessThan(100_000); // tiny on the wire…
    // …but a real, valid PNG of 400 megapixels.
    const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 20_000, height: 20_000 });
    const rssBefore = process.memoryUsage().rss;
    await expectRefused(
      () => uploadFile(server.url, eve.accessToken, bomb, { type: 'image/png' }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    // Decoding it would take 400 MB (one byte per pixel at least).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });

  it('refuses a request with no field named "file" (400)', async () => {
    await expectRefused(
      async () => uploadFile(server.url, eve.accessToken, await png(), { field: 'image' }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('refuses an empty file (400)', async () => {
    await expectRefused(
      () => uploadFile(server.url, eve.accessToken, Buffer.alloc(0)),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('refuses multipart data that is cut short or has no boundary (400)', async () => {
    const { boundary, head } = multipartParts();
    // Complete as an HTTP request, but the multipart body never closes.
    await expectRefused(
      () =>
        call('POST', '/api/uploads', {
          token: eve.accessToken,
          raw: `${head.toString()}GIF89a and then nothing`,
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        }),
      400,
      'VALIDATION_ERROR',
    );
    await expectRefused(
      () =>
        call('POST', '/api/uploads', {
          token: eve.accessToken,
          raw: 'whatever',
          headers: { 'content-type': 'multipart/form-data' },
        }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it.each([
    ['JSON', 'application/json', JSON.stringify({ file: 'aGVsbG8=' })],
    ['raw image bytes', 'image/png', 'not really a png'],
    ['form-urlencoded', 'application/x-www-form-urlencoded', 'file=abc'],
  ])('refuses a body that is not multipart (%s: 415)', async (_name, type, raw) => {
    await expectRefused(
      () => call('POST', '/api/uploads', { token: eve.accessToken, raw, headers: { 'content-type': type } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses an unauthenticated or badly authenticated upload (401)', async () => {
    const data = await png();
    await expectRefused(() => uploadFile(server.url, undefined, data), 401, 'UNAUTHORIZED');
    await expectRefused(() => uploadFile(server.url, 'not-a-token', data), 401, 'UNAUTHORIZED');
  });

  it('accepts a polyglot (PNG + HTML) only as the re-encoded image, without the payload', async () => {
    const { file, payload } = await polyglot();
    expect(file.includes(payload)).toBe(true);
    const a = await uploaded(eve, file, { filename: 'x.html', type: 'text/html' });
    expect(a.mime).toBe('image/png');
    const served = await fetchBytes(server.url, a.url);
    expect(served.status).toBe(200);
    expectSafeHeaders(served, 'image/png');
    expect(served.bytes.includes(payload)).toBe(false);
    expect(served.bytes.includes(Buffer.from('<script'))).toBe(false);
    expect(served.bytes.includes(Buffer.from(HTML_PAYLOAD))).toBe(false);
    // What is left is one well-formed PNG: it ends with its IEND chunk.
    expect(served.bytes.subarray(-8).toString('latin1')).toBe('IEND\xae\x42\x60\x82');
    expect((await sharp(served.bytes).metadata()).format).toBe('png');
  });
});

describe('upload size limit', () => {
  let small: TestServer;
  let smallCall: Call;
  const LIMIT = 256 * 1024;

  beforeAll(async () => {
    small = await startTestServer({ uploadMaxBytes: LIMIT });
    smallCall = client(small.url);
  });
  afterAll(async () => {
    await small?.close();
  });

  /** Sends `body` with chunked transfer encoding (no Content-Length), so only the streaming check can stop it. */
  function chunkedUpload(token: string, file: Buffer): Promise<{ status: number; body: any }> {
    const { boundary, head, tail } = multipartParts();
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${small.url}/api/uploads`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString()) }),
          );
        },
      );
      // The server may answer (and stop reading) before everything is written.
      req.on('error', reject);
      req.write(head);
      for (let i = 0; i < file.length; i += 16 * 1024) req.write(file.subarray(i, i + 16 * 1024));
      req.end(tail);
    });
  }

  it('accepts a file under the limit', async () => {
    const s = await register(smallCall, uniqueName('sz'));
    const data = await noisePng(250, 250); // ~188 KB
    expect(data.length).toBeLessThan(LIMIT);
    expectStatus(await uploadFile(small.url, s.accessToken, data), 201);
  });

  it('refuses a file over the limit (413), whether the declared length or the stream gives it away', async () => {
    const s = await register(smallCall, uniqueName('sz'));
    const rows = await attachmentRows(small);
    const files = storedFiles(small).sort();
    // Just over the limit: only the streaming check can see it (the declared length is within the slack).
    const over = await noisePng(300, 300); // ~270 KB
    expect(over.length).toBeGreaterThan(LIMIT);
    expectError(await uploadFile(small.url, s.accessToken, over), 413, 'PAYLOAD_TOO_LARGE');
    // Far over it, declared up front.
    const huge = await noisePng(600, 600); // ~1 MB
    expectError(await uploadFile(small.url, s.accessToken, huge), 413, 'PAYLOAD_TOO_LARGE');
    // Over it with no declared length at all.
    const res = await chunkedUpload(s.accessToken, huge);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await attachmentRows(small)).toBe(rows);
    expect(storedFiles(small).sort()).toEqual(files);
    await waitFor(() => tempFiles(small).length === 0, 'the temp directory to be empty');
  });
});

describe('memory during a large upload', () => {
  /**
   * A full garbage collection, so that samples measure what is still referenced: chunks already written to disk
   * are garbage until the next scavenge, and would otherwise show up as growth whether or not the server keeps them.
   */
  function collector(): () => void {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    v8.setFlagsFromString('--no-expose-gc');
    return gc;
  }

  /** Streams `file` as a multipart upload in 64 KiB writes, awaiting each; `each` runs after every write. */
  async function streamUpload(
    token: string,
    file: Buffer,
    each: (written: number) => void | Promise<void>,
  ): Promise<{ status: number; body: any }> {
    const { boundary, head, tail } = multipartParts('file', 'big.png', 'image/png');
    const req = http.request(`${server.url}/api/uploads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + file.length + tail.length),
      },
    });
    const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString()) }),
        );
      });
    });
    const write = (buf: Buffer) =>
      new Promise<void>((resolve, reject) => req.write(buf, (err) => (err ? reject(err) : resolve())));
    const CHUNK = 64 * 1024;
    try {
      await write(head);
      for (let written = 0; written < file.length;) {
        const piece = file.subarray(written, written + CHUNK);
        await write(piece);
        written += piece.length;
        await each(written);
      }
    } catch (err) {
      req.destroy(); // a failed check must not leave the request open (the server would wait for it on close)
      throw err;
    }
    req.end(tail);
    return response;
  }

  it('stays flat while 5 MiB stream in slowly (measured), the data going to disk as it arrives', async ({
    annotate,
  }) => {
    const gc = collector();
    const alice = await freshUser('alice');
    // An incompressible PNG just under the 5 MiB limit, so the whole pipeline runs to a 201.
    const file = await noisePng(1290, 1290);
    expect(file.length).toBeGreaterThan(4.7 * 1024 * 1024);
    expect(file.length).toBeLessThan(server.config.uploadMaxBytes);
    const tmp = path.join(uploadsDir(), 'tmp');
    const onDisk = () =>
      Math.max(
        0,
        ...readdirSync(tmp).map((name) => (name.endsWith('.upload') ? statSize(path.join(tmp, name)) : 0)),
      );

    // Warm up every code path (parser, file streams, sharp, JIT) once, so that the measure is of the upload only.
    expectStatus((await streamUpload(alice.accessToken, file, () => undefined)) as Res, 201);

    gc();
    const base = process.memoryUsage();
    const peak = { rss: 0, arrayBuffers: 0, heapUsed: 0 };
    const sample = () => {
      gc();
      const m = process.memoryUsage();
      peak.rss = Math.max(peak.rss, m.rss - base.rss);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers - base.arrayBuffers);
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed - base.heapUsed);
    };
    let samples = 0;
    let checkedDisk = false;
    const res = await streamUpload(alice.accessToken, file, async (written) => {
      // A slow client: the server gets a turn between writes; every 256 KiB, a sample.
      await new Promise((resolve) => setImmediate(resolve));
      if (written % (256 * 1024) === 0 || written === file.length) {
        sample();
        samples++;
      }
      if (!checkedDisk && written >= file.length / 2) {
        // Half-way through, what was sent is on disk already, not held in memory.
        await waitFor(
          () => onDisk() >= written - 256 * 1024,
          'the temp file to grow as the upload streams in',
        );
        checkedDisk = true;
      }
    });
    // (No sample after the response: decoding and re-encoding the image is sharp's work, not the stream's.)
    const mib = (n: number) => (n / 1024 / 1024).toFixed(2);
    const measured =
      `live memory growth while streaming ${mib(file.length)} MiB (${samples} samples): ` +
      `rss +${mib(peak.rss)} MiB, arrayBuffers +${mib(peak.arrayBuffers)} MiB, heapUsed +${mib(peak.heapUsed)} MiB`;
    await annotate(measured);
    expect(peak.arrayBuffers, measured).toBeLessThan(3 * 1024 * 1024);
    expect(peak.heapUsed, measured).toBeLessThan(3 * 1024 * 1024);
    expect(peak.rss, measured).toBeLessThan(3 * 1024 * 1024);
    expect(samples).toBeGreaterThanOrEqual(19);
    expect(checkedDisk).toBe(true);
    expectStatus(res as Res, 201);
    expect(res.body).toMatchObject({ mime: 'image/png', width: 1290, height: 1290 });
  });
});

describe('metadata', () => {
  it('strips EXIF (GPS included) from a JPEG', async () => {
    const alice = await freshUser('alice');
    const original = await jpegWithGps();
    const before = await sharp(original).metadata();
    expect(before.exif, 'the test image must carry EXIF').toBeDefined();
    // GPSLatitudeRef, GPSLatitude, GPSLongitudeRef, GPSLongitude
    expect(exifGpsTags(before.exif!)).toEqual(expect.arrayContaining([1, 2, 3, 4]));
    expect(original.includes(Buffer.from('LeakyPhone'))).toBe(true);
    const a = await uploaded(alice, original);
    const served = await fetchBytes(server.url, a.url);
    expect(served.status).toBe(200);
    const after = await sharp(served.bytes).metadata();
    expect(after.format).toBe('jpeg');
    expect(after.exif).toBeUndefined();
    expect(after.xmp).toBeUndefined();
    expect(served.bytes.includes(Buffer.from('LeakyPhone'))).toBe(false);
    expect(served.bytes.includes(Buffer.from('Exif\0\0'))).toBe(false);
  });

  it('applies EXIF orientation: a 40×20 JPEG with orientation 6 is served as 20×40', async () => {
    const alice = await freshUser('alice');
    const original = await jpegOriented(40, 20, 6);
    expect(await sharp(original).metadata()).toMatchObject({ width: 40, height: 20, orientation: 6 });
    const a = await uploaded(alice, original);
    expect(a).toMatchObject({ width: 20, height: 40 });
    const served = await sharp((await fetchBytes(server.url, a.url)).bytes).metadata();
    expect(served).toMatchObject({ width: 20, height: 40 });
    expect(served.orientation ?? 1).toBe(1);
    const thumb = await sharp((await fetchBytes(server.url, a.thumbnailUrl)).bytes).metadata();
    expect(thumb).toMatchObject({ width: 20, height: 40 });
  });
});

describe('who may see an image', () => {
  let owner: Session, member: Session, outsider: Session;
  let room: Room;
  let a: Attachment;
  let message: Message;

  beforeAll(async () => {
    owner = await freshUser('owner');
    member = await freshUser('member');
    outsider = await freshUser('outsider');
    room = await createRoom(owner, 'private');
    await addMember(owner, room.id, member);
    a = await uploaded(owner, await png(30, 20));
    const res = await postMessage(owner, room.id, { attachmentId: a.id, text: 'look at this' });
    expectStatus(res, 201);
    message = res.body;
  });

  it('posts the upload as an image message with its attachment', () => {
    expect(message).toMatchObject({ kind: 'image', text: 'look at this', roomId: room.id });
    expectAttachment(message.attachment, {
      id: a.id,
      mime: 'image/png',
      width: 30,
      height: 20,
      expired: false,
    });
  });

  it('refuses outsiders (404), with or without a token, and a tampered signature', async () => {
    const signed = message.attachment!.url;
    const [, query] = signed.split('?') as [string, string];
    const params = new URLSearchParams(query);
    const exp = params.get('exp')!;
    const sig = params.get('sig')!;
    const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A');
    for (const variant of ['', '/thumbnail']) {
      const bare = `/api/uploads/${a.id}${variant}`;
      // The signed URL works (so that the refusals below can fail): anyone holding it was shown the message.
      expect((await fetchBytes(server.url, `${bare}?${query}`)).status).toBe(200);
      const refused: [string, string | undefined][] = [
        [bare, undefined],
        [bare, outsider.accessToken],
        [`${bare}?exp=${exp}&sig=${flipped}`, undefined],
        [`${bare}?exp=${exp}&sig=${flipped}`, outsider.accessToken],
        [`${bare}?exp=${Number(exp) + 3600}&sig=${sig}`, undefined],
        [`${bare}?exp=${exp}`, undefined],
        [`${bare}?sig=${sig}`, undefined],
        [`${bare}?exp=${exp}&sig=`, outsider.accessToken],
      ];
      for (const [url, token] of refused) {
        const res = await fetchBytes(server.url, url, token);
        expect(res.status, `${url} with ${token ? 'a token' : 'no token'}`).toBe(404);
        expect(JSON.parse(res.bytes.toString())).toEqual({
          error: expect.objectContaining({ code: 'NOT_FOUND' }),
        });
      }
      // A member's token is enough without a signature.
      const asMember = await fetchBytes(server.url, bare, member.accessToken);
      expect(asMember.status).toBe(200);
      expect(asMember.headers.get('content-type')).toBe(variant ? 'image/webp' : 'image/png');
    }
  });

  it('never shows an unposted upload to other users by token', async () => {
    const b = await uploaded(owner, await png(8, 8));
    expect((await fetchBytes(server.url, `/api/uploads/${b.id}`, member.accessToken)).status).toBe(404);
    expect((await fetchBytes(server.url, `/api/uploads/${b.id}`, owner.accessToken)).status).toBe(200);
  });

  it('stops working for a member who left', async () => {
    const leaver = await freshUser('leaver');
    await addMember(owner, room.id, leaver);
    const bare = `/api/uploads/${a.id}`;
    expect((await fetchBytes(server.url, bare, leaver.accessToken)).status).toBe(200);
    expectStatus(
      await call('DELETE', `/api/chatrooms/${room.id}/members/${leaver.user.id}`, {
        token: leaver.accessToken,
      }),
      204,
    );
    expect((await fetchBytes(server.url, bare, leaver.accessToken)).status).toBe(404);
  });

  it('lets nobody attach someone else’s upload (404) and nobody attach one twice (409)', async () => {
    const mine = await uploaded(member, await png(10, 10));
    // The owner tries to post the member's upload (in a room they share): 404, as if it did not exist.
    const theft = await postMessage(owner, room.id, { attachmentId: mine.id });
    expectError(theft, 404, 'NOT_FOUND');
    // Unknown ids are 404 too.
    expectError(await postMessage(owner, room.id, { attachmentId: 'A'.repeat(22) }), 404, 'NOT_FOUND');
    // The member posts it: fine, once.
    const first = await postMessage(member, room.id, { attachmentId: mine.id });
    expectStatus(first, 201);
    expect(first.body).toMatchObject({ kind: 'image', text: '', attachment: { id: mine.id } });
    expectError(await postMessage(member, room.id, { attachmentId: mine.id }), 409, 'CONFLICT');
    // …and not in another room either; the owner's already-posted one neither.
    const other = await createRoom(member, 'public');
    expectError(await postMessage(member, other.id, { attachmentId: mine.id }), 409, 'CONFLICT');
    expectError(await postMessage(owner, room.id, { attachmentId: a.id, text: 'again' }), 409, 'CONFLICT');
    // The same rules over the socket.
    const socket = await connectSocket(server, owner);
    const stolen = await emitAck(socket, 'message:send', {
      roomId: room.id,
      attachmentId: mine.id,
      clientId: randomUUID(),
    });
    expect(stolen).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const twice = await emitAck(socket, 'message:send', {
      roomId: room.id,
      attachmentId: a.id,
      clientId: randomUUID(),
    });
    expect(twice).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    socket.disconnect();
  });
});

describe('attaching under concurrency', () => {
  it('attaches an upload to exactly one message when several sends race for it', async () => {
    const alice = await freshUser('alice');
    const room = await createRoom(alice, 'public');
    const a = await uploaded(alice, await png(10, 10));
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        postMessage(alice, room.id, { attachmentId: a.id, text: `race ${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses, JSON.stringify(results.map((r) => r.body))).toEqual([201, 409, 409, 409, 409]);
    const history = await call('GET', `/api/chatrooms/${room.id}/messages`, { token: alice.accessToken });
    const withIt = history.body.messages.filter((m: Message) => m.attachment?.id === a.id);
    expect(withIt).toHaveLength(1);
  });
});

describe('image messages over sockets', () => {
  it('reaches the other members with its attachment, which they can fetch', async () => {
    const alice = await freshUser('alice');
    const bob = await freshUser('bob');
    const room = await createRoom(alice, 'private');
    await addMember(alice, room.id, bob);
    const aliceSocket = await connectSocket(server, alice);
    const bobSocket = await connectSocket(server, bob);
    const upload = await uploaded(alice, await jpeg(50, 40));
    const clientId = randomUUID();
    const ack = await emitAck(aliceSocket, 'message:send', {
      roomId: room.id,
      attachmentId: upload.id,
      text: 'sunset',
      clientId,
    });
    if (!ack.ok) throw new Error(JSON.stringify(ack.error));
    const sent = ack.data.message;
    expect(sent).toMatchObject({ kind: 'image', text: 'sunset', clientId, roomId: room.id });
    expectAttachment(sent.attachment, { id: upload.id, mime: 'image/jpeg', width: 50, height: 40 });

    const heard = await nextEvent(bobSocket, 'message:new', (m) => m.id === sent.id);
    expect(heard).toEqual(sent);
    const got = await fetchBytes(server.url, heard.attachment!.url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/jpeg');
    expect(await sharp(got.bytes).metadata()).toMatchObject({ format: 'jpeg', width: 50, height: 40 });
    const thumb = await fetchBytes(server.url, heard.attachment!.thumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');

    // History gives bob the same attachment with a working URL.
    const history = await call('GET', `/api/chatrooms/${room.id}/messages`, { token: bob.accessToken });
    const inHistory = history.body.messages.find((m: Message) => m.id === sent.id);
    expect(inHistory.attachment).toMatchObject({ id: upload.id, expired: false });
    expect((await fetchBytes(server.url, inHistory.attachment.url)).status).toBe(200);
    aliceSocket.disconnect();
    bobSocket.disconnect();
  });
});

describe('expiry', () => {
  // A server of its own: sweeping with a date in the future expires every upload it holds.
  let ttlServer: TestServer;
  let ttlCall: Call;

  beforeAll(async () => {
    ttlServer = await startTestServer({ uploadTtlHours: 2 });
    ttlCall = client(ttlServer.url);
  });
  afterAll(async () => {
    await ttlServer?.close();
  });

  const up = async (s: Session, data: Buffer) => {
    const res = await uploadFile(ttlServer.url, s.accessToken, data);
    expectStatus(res, 201);
    return expectAttachment(res.body);
  };

  it('removes the files after the TTL; the message keeps its text and shows the image as expired', async () => {
    const alice = await register(ttlCall, uniqueName('alice'));
    const room = (await ttlCall('POST', '/api/chatrooms', {
      token: alice.accessToken,
      body: { name: uniqueName('room') },
    })) as Res<Room>;
    expectStatus(room, 201);
    const a = await up(alice, await png(20, 20));
    expect(Date.parse(a.expiresAt!) - Date.now()).toBeGreaterThan(2 * HOUR_MS - 60_000);
    expect(Date.parse(a.expiresAt!) - Date.now()).toBeLessThanOrEqual(2 * HOUR_MS);
    const posted = await ttlCall('POST', `/api/chatrooms/${room.body.id}/messages`, {
      token: alice.accessToken,
      body: { attachmentId: a.id, text: 'before it expires' },
    });
    expectStatus(posted, 201);
    const files = storedFiles(ttlServer);
    expect(files).toEqual(expect.arrayContaining([a.id, `${a.id}.thumb`]));
    expect((await fetchBytes(ttlServer.url, a.url)).status).toBe(200);

    // Not yet due: nothing happens.
    expect(await sweepExpired(ttlServer.parley.ctx, new Date(Date.now() + HOUR_MS))).toBe(0);
    expect(storedFiles(ttlServer)).toEqual(expect.arrayContaining([a.id, `${a.id}.thumb`]));

    const removed = await sweepExpired(ttlServer.parley.ctx, new Date(Date.now() + 3 * HOUR_MS));
    expect(removed).toBe(1);
    expect(storedFiles(ttlServer)).not.toContain(a.id);
    expect(storedFiles(ttlServer)).not.toContain(`${a.id}.thumb`);
    for (const url of [a.url, a.thumbnailUrl]) {
      const res = await fetchBytes(ttlServer.url, url, alice.accessToken);
      expect(res.status, url).toBe(404);
    }
    const history = await ttlCall('GET', `/api/chatrooms/${room.body.id}/messages`, {
      token: alice.accessToken,
    });
    const m = history.body.messages.find((x: Message) => x.id === posted.body.id);
    expect(m).toMatchObject({ kind: 'image', text: 'before it expires', deleted: false });
    expectAttachment(m.attachment, { id: a.id, expired: true });
    // An expired upload cannot be attached any more.
    const b = await up(alice, await png(20, 20));
    await sweepExpired(ttlServer.parley.ctx, new Date(Date.now() + 3 * HOUR_MS));
    expectError(
      await ttlCall('POST', `/api/chatrooms/${room.body.id}/messages`, {
        token: alice.accessToken,
        body: { attachmentId: b.id },
      }),
      404,
      'NOT_FOUND',
    );
  });

  it('neither serves nor attaches an upload past its expiry that no sweep has reached yet', async () => {
    const carol = await register(ttlCall, uniqueName('carol'));
    const room = await ttlCall('POST', '/api/chatrooms', {
      token: carol.accessToken,
      body: { name: uniqueName('room') },
    });
    expectStatus(room, 201);
    const a = await up(carol, await png(20, 20));
    expect((await fetchBytes(ttlServer.url, a.url)).status).toBe(200);
    // Its time runs out (the row says so; the sweeper, every 10 minutes, has not run since).
    await ttlServer.parley.ctx.models.Attachment.update(
      { expiresAt: new Date(Date.now() - 1000) },
      { where: { id: a.id } },
    );
    expect((await fetchBytes(ttlServer.url, a.url)).status).toBe(404);
    expect((await fetchBytes(ttlServer.url, `/api/uploads/${a.id}`, carol.accessToken)).status).toBe(404);
    expectError(
      await ttlCall('POST', `/api/chatrooms/${room.body.id}/messages`, {
        token: carol.accessToken,
        body: { attachmentId: a.id, text: 'too late' },
      }),
      404,
      'NOT_FOUND',
    );
  });

  it('deletes each file exactly once when two sweeps run at the same time', async () => {
    const bob = await register(ttlCall, uniqueName('bob'));
    const later = new Date(Date.now() + 3 * HOUR_MS);
    await sweepExpired(ttlServer.parley.ctx, later); // whatever earlier tests left due
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await up(bob, await png(12 + i, 12))).id);
    // Small batches, so that the two interleave over several rounds.
    const [first, second] = await Promise.all([
      sweepExpired(ttlServer.parley.ctx, later, 2),
      sweepExpired(ttlServer.parley.ctx, later, 2),
    ]);
    expect(first + second).toBe(ids.length);
    const left = storedFiles(ttlServer);
    for (const id of ids) {
      expect(left).not.toContain(id);
      expect(left).not.toContain(`${id}.thumb`);
    }
    const rows = await ttlServer.parley.ctx.models.Attachment.findAll({ where: { id: ids } });
    expect(rows.map((r) => r.expiredAt?.getTime())).toEqual(ids.map(() => later.getTime()));
    // A third sweep finds nothing left to do.
    expect(await sweepExpired(ttlServer.parley.ctx, later)).toBe(0);
  });
});
