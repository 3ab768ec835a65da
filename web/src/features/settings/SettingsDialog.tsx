import type { Me } from '@parley/protocol';
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../../api/client';
import { asApiError, describeError, retryPhrase, type ApiError } from '../../api/errors';
import { checkImage, uploadImage } from '../../api/upload';
import { Avatar } from '../../components/Avatar';
import { Dialog } from '../../components/Dialog';
import { Field } from '../../components/Field';
import { LIMITS } from '../../lib/limits';
import { useMe } from '../auth/me';
import { setMe, signOutEverywhere } from '../auth/session';
import { cropSquare } from './cropSquare';
import { THEMES, setTheme, useTheme, type Theme } from './theme';

/** An error of the server, as a sentence for the field it concerns. */
function fieldMessage(e: ApiError, field: string): string | undefined {
  switch (e.code) {
    case 'RATE_LIMITED':
      return `Too many changes. Try again ${retryPhrase(e.retryAfter)}.`;
    case 'EMAIL_TAKEN':
      return field === 'email' ? 'That email address is already registered.' : undefined;
    case 'CONFLICT':
      // A look-alike display name names its field in details[0].path.
      return e.details[0]?.path === field || (!e.details.length && field === 'displayName')
        ? 'That name is too much like someone else’s. Pick another.'
        : undefined;
    case 'INVALID_CREDENTIALS':
      return field === 'currentPassword' ? 'The current password is wrong.' : undefined;
    case 'FORBIDDEN':
      return e.message;
    case 'VALIDATION_ERROR':
      return e.detailFor(field);
    default:
      return describeError(e);
  }
}

/** Your settings: profile, email, password, theme, sign out everywhere. Opened by your name in the sidebar. */
export function SettingsDialog({ onClose }: { onClose(): void }) {
  const me = useMe();
  if (!me) return null;
  return (
    <Dialog title="Settings" onClose={onClose} className="settings-dialog">
      <ProfileSection me={me} />
      {!me.isGuest && <EmailSection me={me} />}
      {!me.isGuest && <PasswordSection />}
      <ThemeSection />
      <Section title="Sign out everywhere" id="settings-everywhere">
        <SignOutEverywhere />
      </Section>
    </Dialog>
  );
}

function Section({ title, id, children }: { title: string; id: string; children: ReactNode }) {
  return (
    <section className="settings-section" aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {children}
    </section>
  );
}

function Status({ text }: { text: string | null }) {
  return (
    <p className="settings-status" role="status">
      {text}
    </p>
  );
}

/**
 * One section's save actions: `busy` while one runs, its success message as `status`, a failure handed to the
 * action's own error handler. `clear` resets the message before a check that may stop the action early.
 */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const run = async (action: () => Promise<string>, onError: (err: unknown) => void) => {
    setStatus(null);
    setBusy(true);
    try {
      setStatus(await action());
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, status, run, clear: () => setStatus(null) };
}

function ProfileSection({ me }: { me: Me }) {
  const [name, setName] = useState(me.displayName);
  const [nameError, setNameError] = useState<string>();
  const [avatarError, setAvatarError] = useState<string>();
  const { busy, status, run, clear } = useAction();
  const fileRef = useRef<HTMLInputElement>(null);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setNameError(undefined);
    clear();
    if (name.trim() === me.displayName) return;
    await run(
      async () => {
        setMe(await api.updateMe({ displayName: name.trim() }));
        return 'Display name saved.';
      },
      (err) => setNameError(fieldMessage(asApiError(err), 'displayName')),
    );
  };

  const pickAvatar = async (file: File | undefined) => {
    setAvatarError(undefined);
    clear();
    if (!file) return;
    const problem = checkImage(file);
    if (problem) return setAvatarError(problem);
    await run(
      async () => {
        const square = await cropSquare(file);
        const attachment = await uploadImage(square, () => undefined).promise;
        setMe(await api.updateMe({ avatarAttachmentId: attachment.id }));
        return 'Avatar saved.';
      },
      (err) =>
        setAvatarError(
          err instanceof Error && err.name !== 'ApiError'
            ? 'That image could not be read. Try another one.'
            : fieldMessage(asApiError(err), 'avatarAttachmentId'),
        ),
    );
    // The same file picked again must still fire a change.
    if (fileRef.current) fileRef.current.value = '';
  };

  const removeAvatar = async () => {
    setAvatarError(undefined);
    await run(
      async () => {
        setMe(await api.updateMe({ avatarAttachmentId: null }));
        return 'Avatar removed.';
      },
      (err) => setAvatarError(fieldMessage(asApiError(err), 'avatarAttachmentId')),
    );
  };

  return (
    <Section title="Profile" id="settings-profile">
      <form onSubmit={(e) => void save(e)} noValidate>
        <Field
          label="Display name"
          value={name}
          maxLength={LIMITS.displayNameMax}
          autoComplete="nickname"
          onChange={(e) => setName(e.target.value)}
          error={nameError}
          hint="What others see next to your messages."
        />
        <div className="dialog-actions">
          <button type="submit" className="button primary" disabled={busy}>
            Save name
          </button>
        </div>
      </form>
      <div className="settings-avatar">
        <Avatar user={me} />
        <div className="settings-avatar-actions">
          <label className="button small">
            {me.avatarUrl ? 'Change avatar' : 'Upload avatar'}
            <input
              ref={fileRef}
              className="sr-only"
              type="file"
              accept="image/jpeg,image/png,image/gif,image/webp"
              aria-describedby="avatar-hint"
              disabled={busy}
              onChange={(e) => void pickAvatar(e.target.files?.[0])}
            />
          </label>
          {me.avatarUrl && (
            <button
              type="button"
              className="button small"
              disabled={busy}
              onClick={() => void removeAvatar()}
            >
              Remove avatar
            </button>
          )}
        </div>
      </div>
      <p id="avatar-hint" className="field-hint">
        JPEG, PNG, GIF or WebP; cropped to a square.
      </p>
      {avatarError && (
        <p className="field-error" role="alert">
          {avatarError}
        </p>
      )}
      <Status text={status} />
    </Section>
  );
}

function EmailSection({ me }: { me: Me }) {
  const [email, setEmail] = useState(me.email ?? '');
  const [error, setError] = useState<string>();
  const { busy, status, run } = useAction();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    await run(
      async () => {
        setMe(await api.updateMe({ email: email.trim() }));
        return 'Email saved.';
      },
      (err) => setError(fieldMessage(asApiError(err), 'email')),
    );
  };
  return (
    <Section title="Email" id="settings-email">
      <form onSubmit={(e) => void save(e)} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={error}
        />
        <div className="dialog-actions">
          <button type="submit" className="button primary" disabled={busy}>
            Save email
          </button>
        </div>
      </form>
      <Status text={status} />
    </Section>
  );
}

function PasswordSection() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [errors, setErrors] = useState<{ currentPassword?: string; newPassword?: string }>({});
  const { busy, status, run, clear } = useAction();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    clear();
    if (next.length < LIMITS.passwordMin)
      return setErrors({ newPassword: `Use at least ${LIMITS.passwordMin} characters.` });
    await run(
      async () => {
        await api.changePassword(current, next);
        setCurrent('');
        setNext('');
        return 'Password changed. You were signed out on your other devices.';
      },
      (err) => {
        const e2 = asApiError(err);
        const np = fieldMessage(e2, 'newPassword');
        setErrors(
          e2.code === 'VALIDATION_ERROR' && np
            ? { newPassword: np }
            : { currentPassword: fieldMessage(e2, 'currentPassword') ?? describeError(e2) },
        );
      },
    );
  };
  return (
    <Section title="Password" id="settings-password">
      <form onSubmit={(e) => void save(e)} noValidate>
        <Field
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          error={errors.currentPassword}
        />
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
          error={errors.newPassword}
          hint="8 to 128 characters. Your other devices are signed out; this one stays signed in."
        />
        <div className="dialog-actions">
          <button type="submit" className="button primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
      <Status text={status} />
    </Section>
  );
}

const THEME_LABELS: Record<Theme, string> = { system: 'System', light: 'Light', dark: 'Dark' };

function ThemeSection() {
  const theme = useTheme();
  return (
    <fieldset className="settings-section settings-theme">
      <legend>Theme</legend>
      {THEMES.map((t) => (
        <label key={t} className="radio">
          <input type="radio" name="theme" value={t} checked={theme === t} onChange={() => setTheme(t)} />
          {THEME_LABELS[t]}
        </label>
      ))}
    </fieldset>
  );
}

function SignOutEverywhere() {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const go = () =>
    void signOutEverywhere().catch((err: unknown) => {
      setError(describeError(err));
      setConfirming(false);
    });
  return (
    <>
      <p>Ends every session of your account, on every device, this one included.</p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {confirming ? (
        <div className="dialog-actions">
          <button type="button" className="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
          <button type="button" className="button danger" onClick={go}>
            Yes, sign out everywhere
          </button>
        </div>
      ) : (
        <button type="button" className="button danger" onClick={() => setConfirming(true)}>
          Sign out everywhere
        </button>
      )}
    </>
  );
}
