import type { Session } from '@parley/protocol';
import { expect } from 'vitest';

/** What the REST assertions need of an answer (a `Res` from test-support, or an upload's answer). */
interface Answer {
  status: number;
  body: unknown;
}

/** An ISO-8601 UTC timestamp as the server writes them. */
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Larger than any id, and larger than a 32-bit integer column can hold. */
export const MISSING_ID = '9999999999';

export function expectStatus(res: Answer, status: number): void {
  expect(res.status, `${res.status} ${JSON.stringify(res.body)}`).toBe(status);
}

/** The contract's error shape: `{ error: { code, message, details? } }` and nothing else, with this status. */
export function expectError(res: Answer, status: number, code: string): void {
  expectStatus(res, status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

/** The public User of a session's Me (without the email). */
export const userOf = (s: Session) => {
  const { email: _email, ...user } = s.user;
  return user;
};
