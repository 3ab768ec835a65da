import { LIMITS } from '../../lib/limits';
import { asApiError, retryPhrase } from '../../api/errors';

export type FieldErrors<F extends string> = Partial<Record<F | 'form', string>>;

/** Maps a server error to the fields it concerns, in words a person can act on. */
export function toFieldErrors<F extends string>(err: unknown, fields: readonly F[]): FieldErrors<F> {
  const e = asApiError(err);
  const out: FieldErrors<F> = {};
  switch (e.code) {
    case 'USERNAME_TAKEN':
      out['username' as F] = 'That username is taken. Try another one.';
      return out;
    case 'CONFLICT': {
      // A display name that reads as someone else's name comes back on its field (details[].path).
      const field = fields.find((f) => e.detailFor(f));
      if (field) out[field] = 'That looks too much like someone else’s name. Try another one.';
      else out.form = e.message;
      return out;
    }
    case 'EMAIL_TAKEN':
      out['email' as F] = 'An account with that email already exists. Sign in instead?';
      return out;
    case 'INVALID_CREDENTIALS':
      out.form = 'That username or password is not right.';
      return out;
    case 'RATE_LIMITED':
      out.form = `Too many attempts. Try again ${retryPhrase(e.retryAfter)}.`;
      return out;
    case 'FORBIDDEN':
      out.form = e.message || 'That is not allowed here.';
      return out;
    case 'VALIDATION_ERROR': {
      for (const d of e.details) {
        const field = fields.find((f) => d.path === f || d.path.endsWith(`.${f}`));
        if (field && !out[field]) out[field] = sentence(d.message);
        else if (!field) out.form ??= sentence(d.message);
      }
      if (Object.keys(out).length === 0) out.form = e.message;
      return out;
    }
    default:
      out.form = e.code === 'NETWORK' ? e.message : `Something went wrong (${e.message}). Please try again.`;
      return out;
  }
}

const sentence = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.') : s);

/** The checks worth making before a round trip; the server checks everything again. */
export function checkUsername(v: string): string | undefined {
  const name = v.trim();
  if (!name) return 'Enter a username.';
  if (name.length < LIMITS.usernameMin || name.length > LIMITS.usernameMax)
    return `Use ${LIMITS.usernameMin} to ${LIMITS.usernameMax} characters.`;
  if (!LIMITS.usernamePattern.test(name)) return 'Use only letters, digits, "_", "." and "-".';
  return undefined;
}

export function checkPassword(v: string): string | undefined {
  if (v.length < LIMITS.passwordMin) return `Use at least ${LIMITS.passwordMin} characters.`;
  if (v.length > LIMITS.passwordMax) return `Use at most ${LIMITS.passwordMax} characters.`;
  return undefined;
}

export function checkEmail(v: string): string | undefined {
  if (!v.trim()) return 'Enter your email address.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim())) return 'Enter an email address like ana@example.com.';
  return undefined;
}
