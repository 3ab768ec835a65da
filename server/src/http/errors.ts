import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import { AppError, toErrorBody } from '../errors.js';
import { wwwAuthenticate } from './conventions.js';

/** Errors raised by body-parser and friends, which carry `type`/`status` instead of being AppErrors. */
interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
}

function normalise(err: unknown): unknown {
  if (err instanceof AppError || typeof err !== 'object' || err === null) return err;
  const e = err as HttpishError;
  if (e.type === 'entity.parse.failed') return new AppError('VALIDATION_ERROR', 'The body is not valid JSON');
  if (e.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'The body is too large');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send UTF-8 JSON');
  const status = e.status ?? e.statusCode;
  if (status && status >= 400 && status < 500)
    return new AppError('VALIDATION_ERROR', 'The request is not valid');
  return err;
}

/** The one mapping from thrown errors to HTTP answers. Unknown errors are logged with their stack, never sent. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const mapped = normalise(err);
    const { status, body, retryAfter } = toErrorBody(mapped);
    if (status >= 500) logger.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) return void res.end();
    if (retryAfter) res.setHeader('Retry-After', String(retryAfter));
    if (status === 401) res.setHeader('WWW-Authenticate', wwwAuthenticate(req, body.error.code));
    res.status(status).json(body);
  };
}

/** 404 in the contract's shape for unknown API paths. */
export function apiNotFound(req: Request, res: Response): void {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.path}` } });
}
