import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/*
 * Real image files made in the test, and the hostile ones an attacker would send: a polyglot, a truncated file, a
 * decompression bomb. Everything is generated, nothing is read from fixtures.
 */

const RED = { r: 220, g: 30, b: 30, alpha: 1 };

/** A plain image of `width`×`height` in the given format. */
export function solid(width: number, height: number) {
  return sharp({ create: { width, height, channels: 4, background: RED } });
}

export const png = (w = 64, h = 48) => solid(w, h).png().toBuffer();
export const jpeg = (w = 64, h = 48) => solid(w, h).jpeg().toBuffer();
export const gif = (w = 64, h = 48) => solid(w, h).gif().toBuffer();
export const webp = (w = 64, h = 48) => solid(w, h).webp().toBuffer();

/** An animated GIF of `frames` frames of `w`×`h`, each a different colour. */
export async function animatedGif(w = 40, h = 30, frames = 3): Promise<Buffer> {
  const colours = [
    [220, 30, 30, 255],
    [30, 200, 30, 255],
    [30, 30, 220, 255],
  ];
  const raw = Buffer.alloc(w * h * 4 * frames);
  for (let f = 0; f < frames; f++) {
    const rgba = colours[f % colours.length]!;
    for (let p = 0; p < w * h; p++) raw.set(rgba, (f * w * h + p) * 4);
  }
  return sharp(raw, { raw: { width: w, height: h * frames, channels: 4, pageHeight: h } })
    .gif({ loop: 0, delay: Array<number>(frames).fill(100) })
    .toBuffer();
}

/** Random pixels: incompressible, so the encoded file is about `w * h * 3` bytes. */
export function noisePng(w: number, h: number): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  // A cheap deterministic PRNG (xorshift): reproducible, and fast enough for megabytes.
  let x = 0x9e3779b9;
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = x & 0xff;
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/** A JPEG whose EXIF carries a GPS position (and a camera make), as a phone would write it. */
export function jpegWithGps(w = 64, h = 48): Promise<Buffer> {
  return solid(w, h)
    .jpeg()
    .withExif({
      IFD0: { Make: 'LeakyPhone', Model: 'GPS-9000' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2964/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4008/100',
      },
    })
    .toBuffer();
}

/** A `w`×`h` JPEG stored with EXIF orientation 6 ("rotate 90° clockwise to display"). */
export function jpegOriented(w: number, h: number, orientation = 6): Promise<Buffer> {
  return solid(w, h).jpeg().withMetadata({ orientation }).toBuffer();
}

// ---- hand-made PNGs ---------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A fully valid decompression bomb: a 1-bit grey PNG of `w`×`h` (20000×20000 = 400 megapixels) whose pixel rows
 * are all zero, so that it deflates to a few tens of kilobytes but would need hundreds of megabytes decoded.
 */
export function pngBomb(w = 20_000, h = 20_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(w / 8); // filter byte + packed pixels
  const idat = deflateSync(Buffer.alloc(rowBytes * h), { level: 9 });
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- things that are not images --------------------------------------------------------------------

export const HTML_PAYLOAD =
  '<!doctype html><html><body><script>alert(document.cookie)</script></body></html>';
export const html = () => Buffer.from(HTML_PAYLOAD);
export const svg = () =>
  Buffer.from(
    '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' +
      '<script>alert(1)</script><rect width="10" height="10" fill="red"/></svg>',
  );

/** A real PNG with HTML/JS appended after its IEND: a "polyglot" some browsers would sniff as HTML. */
export async function polyglot(): Promise<{ file: Buffer; payload: Buffer }> {
  const payload = Buffer.from(`<html><script>/*POLYGLOT-PAYLOAD-7f3a*/alert(1)</script></html>`);
  return { file: Buffer.concat([await png(32, 32), payload]), payload };
}

/** The first part of a real (noisy, so mostly pixel data) PNG: the header says PNG, the pixels stop short. */
export async function truncatedPng(): Promise<Buffer> {
  const full = await noisePng(200, 200);
  return full.subarray(0, Math.floor(full.length / 2));
}

// ---- sending and fetching them over real HTTP --------------------------------------------------------

export interface UploadResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** POST /api/uploads as a browser would: multipart/form-data with the bytes in `field` (default `file`). */
export async function uploadFile(
  baseUrl: string,
  token: string | undefined,
  data: Buffer,
  opts: { field?: string; filename?: string; type?: string } = {},
): Promise<UploadResponse> {
  const form = new FormData();
  form.append(
    opts.field ?? 'file',
    new Blob([new Uint8Array(data)], { type: opts.type ?? 'application/octet-stream' }),
    opts.filename ?? 'image.bin',
  );
  const res = await fetch(`${baseUrl}/api/uploads`, {
    method: 'POST',
    body: form,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

export interface Fetched {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

/** GET `path` (absolute path on the server, query included), optionally with a bearer token. */
export async function fetchBytes(baseUrl: string, path: string, token?: string): Promise<Fetched> {
  const res = await fetch(baseUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** The pieces of a hand-made multipart body around one file part, for raw `http.request` uploads. */
export function multipartParts(
  field = 'file',
  filename = 'image.png',
  type = 'application/octet-stream',
): { boundary: string; head: Buffer; tail: Buffer } {
  const boundary = `----parley-test-${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
      `Content-Type: ${type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { boundary, head, tail };
}

/**
 * The tag numbers in the GPS IFD of an EXIF block (as `sharp().metadata().exif` gives it), or [] when it has none.
 * A minimal TIFF reader: enough to prove a position is really in the file before the upload.
 */
export function exifGpsTags(exif: Buffer): number[] {
  const tiff = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
  const le = tiff.subarray(0, 2).toString('latin1') === 'II';
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const entries = (ifd: number) =>
    Array.from({ length: Math.min(u16(ifd), 256) }, (_, i) => ({
      tag: u16(ifd + 2 + i * 12),
      value: u32(ifd + 2 + i * 12 + 8),
    }));
  const gps = entries(u32(4)).find((e) => e.tag === 0x8825);
  return gps ? entries(gps.value).map((e) => e.tag) : [];
}
