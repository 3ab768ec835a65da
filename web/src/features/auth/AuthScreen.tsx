import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import { navigate } from '../../app/router';
import { Field } from '../../components/Field';
import { checkEmail, checkPassword, checkUsername, toFieldErrors, type FieldErrors } from './authErrors';
import { adoptSession } from './session';

type Mode = 'login' | 'register';

/** The signed-out screen: sign in (or continue as a guest), or create an account. */
export function AuthScreen({ mode, notice }: { mode: Mode; notice?: string }) {
  return (
    <div className="auth-page">
      <main className="auth-card" aria-labelledby="auth-title">
        <p className="brand" aria-hidden="true">
          <span className="brand-mark">P</span> Parley
        </p>
        {notice && (
          <p className="auth-notice" role="status">
            {notice}
          </p>
        )}
        {mode === 'login' ? <SignInForm /> : <RegisterForm />}
      </main>
    </div>
  );
}

const afterSignIn = () => {
  if (location.pathname === '/login' || location.pathname === '/register') navigate('/', { replace: true });
};

/**
 * The switch between the two forms. A button named as the contract names the control ("Create account", "Sign in":
 * CONTRACT.md "Web client: names"), so that it is found by the same name as the form's own submit button.
 */
function SwitchForm({ to, children }: { to: string; children: string }) {
  return (
    <button type="button" className="link-like auth-switch" onClick={() => navigate(to)}>
      {children}
    </button>
  );
}

function FormError({ text }: { text?: string }) {
  return (
    <div className="form-error" role="alert">
      {text}
    </div>
  );
}

const SIGN_IN_FIELDS = ['username', 'password'] as const;

function SignInForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors<(typeof SIGN_IN_FIELDS)[number]>>({});
  const [busy, setBusy] = useState<null | 'login' | 'guest'>(null);

  const signIn = async (e: FormEvent) => {
    e.preventDefault();
    const next = {
      username: username.trim() ? undefined : 'Enter your username or email.',
      password: password ? undefined : 'Enter your password.',
    };
    setErrors(next);
    if (next.username || next.password) return;
    setBusy('login');
    try {
      const id = username.trim();
      const session = await api.login(
        id.includes('@') ? { email: id, password } : { username: id, password },
      );
      adoptSession(session);
      afterSignIn();
    } catch (err) {
      setErrors(toFieldErrors(err, SIGN_IN_FIELDS));
      setBusy(null);
    }
  };

  const guest = async () => {
    const problem = checkUsername(username);
    if (problem) {
      setErrors({ username: `${problem} Guests pick a username too.` });
      document.getElementById('signin-username')?.focus();
      return;
    }
    setErrors({});
    setBusy('guest');
    try {
      adoptSession(await api.guest(username.trim()));
      afterSignIn();
    } catch (err) {
      const mapped = toFieldErrors(err, SIGN_IN_FIELDS);
      if (mapped.username?.startsWith('That username is taken'))
        mapped.username = 'Someone is using that name right now. Pick another one.';
      setErrors(mapped);
      setBusy(null);
    }
  };

  return (
    <form className="auth-form" onSubmit={signIn} noValidate>
      <h1 id="auth-title">Sign in</h1>
      <FormError text={errors.form} />
      <Field
        id="signin-username"
        label="Username"
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        error={errors.username}
        hint="Your username or email address."
      />
      <Field
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        error={errors.password}
      />
      <button type="submit" className="button primary wide" disabled={busy !== null}>
        {busy === 'login' ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="auth-alt">
        New here? <SwitchForm to="/register">Create account</SwitchForm>
      </p>
      <div className="auth-divider" role="presentation">
        <span>or</span>
      </div>
      <p className="auth-guest-hint" id="guest-hint">
        No account needed: pick a username above and chat as a guest.
      </p>
      <button
        type="button"
        className="button wide"
        onClick={() => void guest()}
        disabled={busy !== null}
        aria-describedby="guest-hint"
      >
        {busy === 'guest' ? 'Joining…' : 'Continue as guest'}
      </button>
    </form>
  );
}

const REGISTER_FIELDS = ['username', 'email', 'password', 'displayName'] as const;

function RegisterForm() {
  const [form, setForm] = useState({ username: '', email: '', password: '', displayName: '' });
  const [errors, setErrors] = useState<FieldErrors<(typeof REGISTER_FIELDS)[number]>>({});
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const next = {
      username: checkUsername(form.username),
      email: checkEmail(form.email),
      password: checkPassword(form.password),
    };
    setErrors(next);
    const first = (['username', 'email', 'password'] as const).find((k) => next[k]);
    if (first) {
      document.getElementById(`register-${first}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const displayName = form.displayName.trim();
      const session = await api.register({
        username: form.username.trim(),
        email: form.email.trim(),
        password: form.password,
        ...(displayName ? { displayName } : {}),
      });
      adoptSession(session);
      afterSignIn();
    } catch (err) {
      const mapped = toFieldErrors(err, REGISTER_FIELDS);
      setErrors(mapped);
      const firstBad = REGISTER_FIELDS.find((k) => mapped[k]);
      if (firstBad) document.getElementById(`register-${firstBad}`)?.focus();
      setBusy(false);
    }
  };

  return (
    <form className="auth-form" onSubmit={submit} noValidate>
      <h1 id="auth-title">Create your account</h1>
      <FormError text={errors.form} />
      <Field
        id="register-username"
        label="Username"
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        value={form.username}
        onChange={set('username')}
        error={errors.username}
        hint="3–32 letters, digits, “_”, “.” or “-”."
      />
      <Field
        id="register-email"
        label="Email"
        name="email"
        type="email"
        autoComplete="email"
        value={form.email}
        onChange={set('email')}
        error={errors.email}
      />
      <Field
        id="register-password"
        label="Password"
        name="password"
        type="password"
        autoComplete="new-password"
        value={form.password}
        onChange={set('password')}
        error={errors.password}
        hint="At least 8 characters."
      />
      <Field
        id="register-displayName"
        label="Display name (optional)"
        name="displayName"
        autoComplete="name"
        value={form.displayName}
        onChange={set('displayName')}
        error={errors.displayName}
        hint="How others see you. Defaults to your username."
      />
      <button type="submit" className="button primary wide" disabled={busy}>
        {busy ? 'Creating account…' : 'Create account'}
      </button>
      <p className="auth-alt">
        Already have an account? <SwitchForm to="/login">Sign in</SwitchForm>
      </p>
    </form>
  );
}
