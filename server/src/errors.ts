import { ERROR_STATUS, type ErrorBody, type ErrorCode, type ErrorDetail } from '@parley/protocol';
import { ConnectionError, DatabaseError } from 'sequelize';
import type { ZodError } from 'zod';

/** The one error type services throw. Everything else that escapes is logged and answered as INTERNAL. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds, for RATE_LIMITED. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what = 'Not found') => new AppError('NOT_FOUND', what);
export const forbidden = (why = 'You may not do that') => new AppError('FORBIDDEN', why);
export const unauthorized = (why = 'Sign in first') => new AppError('UNAUTHORIZED', why);
/** VALIDATION_ERROR for one field a schema cannot judge alone (a cursor, a limit that depends on stored data). */
export const invalidField = (path: string, message: string) =>
  new AppError('VALIDATION_ERROR', 'The request is not valid', [{ path, message }]);

/** A zod failure as VALIDATION_ERROR with one detail per issue. */
export function fromZod(err: ZodError, prefix = ''): AppError {
  const details = err.issues.slice(0, 20).map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  return new AppError('VALIDATION_ERROR', 'The request is not valid', details);
}

/** The contract's error body for any thrown value; unknown errors become INTERNAL without leaking anything. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (err instanceof AppError) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.details) error.details = err.details;
    // In the body too, so that socket acks (which have no headers) can say how long to wait.
    if (err.retryAfter) error.retryAfter = err.retryAfter;
    return { status: err.status, body: { error }, retryAfter: err.retryAfter };
  }
  if (databaseUnavailable(err)) {
    // Nothing was stored: the client may retry (sends are idempotent by clientId).
    return {
      status: 503,
      body: {
        error: { code: 'UNAVAILABLE', message: 'The database is unavailable right now; try again shortly' },
      },
      retryAfter: 2,
    };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'Something went wrong on our side' } } };
}

/** The database could not be reached (down, restarting, pool exhausted) or stayed locked past the busy timeout. */
function databaseUnavailable(err: unknown): boolean {
  if (err instanceof ConnectionError) return true;
  const code =
    (err instanceof DatabaseError ? (err.parent as { code?: string } | undefined)?.code : undefined) ?? '';
  return code === 'SQLITE_BUSY' || code === '57P01' || code === '57P03' || code === '08006';
}
