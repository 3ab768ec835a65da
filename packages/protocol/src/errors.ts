/** Every error code the contract knows, with the HTTP status it travels with. */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  /** Extension: a known path asked with a method it does not have (the answer's `Allow` lists the ones it has). */
  METHOD_NOT_ALLOWED: 405,
  USERNAME_TAKEN: 409,
  EMAIL_TAKEN: 409,
  ROOM_NAME_TAKEN: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** Extension: the server's upload storage is full. */
  STORAGE_FULL: 507,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/** One entry of `error.details`: which field was wrong and why. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error shape, REST and socket alike. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    details?: ErrorDetail[];
    /** Extension: seconds to wait, on RATE_LIMITED (REST also sends `Retry-After`). */
    retryAfter?: number;
  };
}
