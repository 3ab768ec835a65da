import { ConnectionRefusedError, DatabaseError } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { AppError, toErrorBody } from './errors.js';

describe('toErrorBody', () => {
  it.each([
    ['an AppError keeps its code and status', new AppError('NOT_FOUND', 'nope'), 404, 'NOT_FOUND'],
    [
      'a database that refuses connections is 503 UNAVAILABLE',
      new ConnectionRefusedError(new Error('ECONNREFUSED')),
      503,
      'UNAVAILABLE',
    ],
    [
      'PostgreSQL shutting down (57P01) is 503 UNAVAILABLE',
      new DatabaseError(Object.assign(new Error('terminating connection'), { code: '57P01', sql: '' })),
      503,
      'UNAVAILABLE',
    ],
    [
      'SQLite locked past the busy timeout is 503 UNAVAILABLE',
      new DatabaseError(Object.assign(new Error('SQLITE_BUSY'), { code: 'SQLITE_BUSY', sql: '' })),
      503,
      'UNAVAILABLE',
    ],
    ['anything else is 500 INTERNAL, saying nothing', new Error('SELECT secret FROM users'), 500, 'INTERNAL'],
  ])('%s', (_name, err, status, code) => {
    const out = toErrorBody(err);
    expect(out.status).toBe(status);
    expect(out.body.error.code).toBe(code);
    expect(out.body.error.message).not.toMatch(/SELECT|ECONNREFUSED|SQLITE/);
  });

  it('RATE_LIMITED carries retryAfter in the body and for the header', () => {
    const out = toErrorBody(new AppError('RATE_LIMITED', 'slow down', undefined, 7));
    expect(out.retryAfter).toBe(7);
    expect(out.body.error.retryAfter).toBe(7);
  });
});
