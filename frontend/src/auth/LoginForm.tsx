import { useEffect, useId, useState, type FormEvent } from "react";
import { describeError, toCoded } from "../api/errors";
import { auth, type AuthConfig, type SessionInfo } from "./api";

interface Props {
  onSignedIn: (info: SessionInfo) => void;
  /** Shown above the form (why signing in is needed). */
  reason?: string;
  /** The person whose session ended: signing in as someone else reloads the page. */
  username?: string;
}

export function LoginForm({ onSignedIn, reason, username = "" }: Props) {
  const [name, setName] = useState(username);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const ids = { name: useId(), password: useId() };

  useEffect(() => {
    auth.config().then(setConfig, () => setConfig(null));
  }, []);

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await auth.login(name, password));
    } catch (err) {
      const coded = toCoded(err);
      setError(coded.code === "invalid_credentials" ? "Wrong username or password." : describeError(coded));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="login-form" onSubmit={submit} aria-label="Sign in">
      {reason && <p className="notice">{reason}</p>}
      <label htmlFor={ids.name}>Username</label>
      <input id={ids.name} autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} required />
      <label htmlFor={ids.password}>Password</label>
      <input
        id={ids.password}
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        required
      />
      {error && (
        <p className="notice notice--error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="btn btn--primary" disabled={busy}>
        Sign in
      </button>
      {config?.oidc && (
        <a className="btn" href={config.oidc.url}>
          Sign in with {config.oidc.name}
        </a>
      )}
    </form>
  );
}

export function SetPasswordForm({ onDone }: { onDone: () => void }) {
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ids = { one: useId(), two: useId() };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if (password !== again) return setError("The two passwords differ.");
    try {
      await auth.setPassword(password);
      onDone();
    } catch (err) {
      const coded = toCoded(err);
      setError(coded.code === "weak_password" ? coded.message : describeError(coded));
    }
  };
  return (
    <form className="login-form" onSubmit={submit} aria-label="Choose a password">
      <p>Choose a password of at least 12 characters (a few unrelated words work well).</p>
      <label htmlFor={ids.one}>New password</label>
      <input id={ids.one} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      <label htmlFor={ids.two}>New password again</label>
      <input id={ids.two} type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required />
      {error && (
        <p className="notice notice--error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="btn btn--primary">
        Save password
      </button>
    </form>
  );
}
