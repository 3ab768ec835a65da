import type { ErrorBody, ErrorCode, ErrorDetail } from '@parley/protocol';

/** Any failure of a REST call or socket acknowledgement, in the contract's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | 'NETWORK' | 'TIMEOUT',
    message: string,
    readonly status = 0,
    readonly details: ErrorDetail[] = [],
    /** Seconds to wait, for RATE_LIMITED. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static fromBody(body: unknown, status: number, retryAfter?: number): ApiError {
    const e = (body as Partial<ErrorBody> | null)?.error;
    if (e && typeof e.code === 'string') {
      return new ApiError(e.code, e.message || 'Request failed', status, e.details ?? [], retryAfter);
    }
    return new ApiError(
      status >= 500 ? 'INTERNAL' : 'VALIDATION_ERROR',
      `Request failed (${status})`,
      status,
    );
  }

  /** The message for one field of a VALIDATION_ERROR (path `username`, `body.username`, …). */
  detailFor(field: string): string | undefined {
    return this.details.find((d) => d.path === field || d.path.endsWith(`.${field}`))?.message;
  }
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError('NETWORK', 'Cannot reach the server. Check your connection and try again.');
}

/** "in 42 seconds" / "in 3 minutes" for rate-limit messages. */
export function retryPhrase(seconds: number | undefined): string {
  if (!seconds || seconds <= 0) return 'in a moment';
  if (seconds < 90) return `in ${Math.ceil(seconds)} second${Math.ceil(seconds) === 1 ? '' : 's'}`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}

/** A sentence a person can act on, for errors shown outside a form. */
export function describeError(err: unknown): string {
  const e = asApiError(err);
  switch (e.code) {
    case 'RATE_LIMITED':
      return `You're going too fast. Try again ${retryPhrase(e.retryAfter)}.`;
    case 'PAYLOAD_TOO_LARGE':
      return 'That file is too large (5 MB at most).';
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'Only JPEG, PNG, GIF or WebP images can be sent.';
    case 'NETWORK':
    case 'TIMEOUT':
      return e.message;
    case 'INTERNAL':
      return 'Something went wrong on the server. Try again.';
    case 'VALIDATION_ERROR':
      return e.details[0] ? `${e.message}: ${e.details[0].message}` : e.message;
    default:
      return e.message;
  }
}
