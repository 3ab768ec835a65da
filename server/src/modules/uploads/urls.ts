import { createHmac, timingSafeEqual } from 'node:crypto';

const HOUR = 3600;
/** How long a presented URL works. Aligned to the hour so one image keeps one URL (and cache entry) for a while. */
const VALID_FOR = 24 * HOUR;

/**
 * Signed, expiring attachment URLs. `<img>` cannot send an Authorization header, so the URL itself carries the
 * permission: only someone who was shown the message (a member) ever gets a valid signature.
 */
export class UploadUrls {
  private key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('parley-upload-urls').digest();
  }

  private sig(id: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${id}:${exp}`).digest('base64url');
  }

  /** `?exp=…&sig=…` for attachment `id`, valid for a day or so. */
  query(id: string, now = Date.now()): string {
    const exp = Math.ceil(now / 1000 / HOUR) * HOUR + VALID_FOR;
    return `exp=${exp}&sig=${this.sig(id, exp)}`;
  }

  /** Seconds the signature is still good for, or 0 when it is missing, forged or expired. */
  validFor(id: string, exp: unknown, sig: unknown, now = Date.now()): number {
    if (typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp)) return 0;
    const expected = Buffer.from(this.sig(id, Number(exp)));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 0;
    return Math.max(0, Number(exp) - Math.floor(now / 1000));
  }
}
