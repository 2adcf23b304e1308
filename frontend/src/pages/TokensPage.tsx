// Personal API tokens: make one for a program (shown once), see when each was last
// used, revoke. Admins see everyone's.
import { useCallback, useEffect, useId, useState, type FormEvent } from "react";
import { describeError, toCoded } from "../api/errors";
import { admin, ROLES, type TokenInfo } from "../auth/api";
import { useSession } from "../auth/session";

export function TokensPage() {
  const { can, info } = useSession();
  const every = can("tokens.manage");
  const [tokens, setTokens] = useState<TokenInfo[]>([]);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState(info?.user.role ?? "clerk");
  const ids = { name: useId(), role: useId() };

  const act = useCallback(async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      setTokens(await admin.tokens(every));
    } catch (err) {
      setError(describeError(toCoded(err)));
    }
  }, [every]);
  useEffect(() => void act(async () => {}), [act]);

  const create = (ev: FormEvent) => {
    ev.preventDefault();
    void act(async () => {
      setSecret((await admin.createToken(name, role)).token);
      setName("");
    });
  };

  return (
    <section className="card" aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">API tokens</h2>
      <form className="inline-form" onSubmit={create} aria-label="New API token">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. scanner script" required />
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value)}>
          {ROLES.map((r) => <option key={r}>{r}</option>)}
        </select>
        <button type="submit" className="btn btn--primary">Create token</button>
      </form>
      {secret && (
        <p className="notice" role="status">
          Copy this token now; it is not shown again: <code>{secret}</code>
        </p>
      )}
      {error && <p className="notice notice--error" role="alert">{error}</p>}
      <table className="table" aria-label="API tokens">
        <thead><tr><th>Name</th>{every && <th>Owner</th>}<th>Role</th><th>Starts</th><th>Last used</th><th></th></tr></thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              {every && <td>{t.owner}</td>}
              <td>{t.role}</td>
              <td><code>{t.prefix}…</code></td>
              <td>{t.last_used_at ?? "never"}</td>
              <td>
                {t.revoked_at ? "revoked" : (
                  <button type="button" className="btn" onClick={() => void act(() => admin.revokeToken(t.id))}>Revoke</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
