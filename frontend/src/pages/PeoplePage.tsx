// People (admin): add someone (they get a single-use sign-in link), change a role,
// disable or enable, make a reset link.
import { useCallback, useEffect, useId, useState, type FormEvent } from "react";
import { describeError, toCoded } from "../api/errors";
import { admin, ROLES, type Person } from "../auth/api";

export function PeoplePage() {
  const [people, setPeople] = useState<Person[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<{ who: string; url: string } | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState("clerk");
  const ids = { name: useId(), role: useId() };

  const act = useCallback(async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      setPeople(await admin.people());
    } catch (err) {
      setError(describeError(toCoded(err)));
    }
  }, []);
  useEffect(() => void act(async () => {}), [act]);

  const add = (ev: FormEvent) => {
    ev.preventDefault();
    void act(async () => {
      const made = await admin.addPerson(name, role);
      if (made.link) setLink({ who: made.user.username, url: made.link });
      setName("");
    });
  };
  const reset = (who: string) => void act(async () => setLink({ who, url: await admin.resetLink(who) }));

  return (
    <section className="card" aria-labelledby="people-heading">
      <h2 id="people-heading">People</h2>
      <form className="inline-form" onSubmit={add} aria-label="Add a person">
        <label htmlFor={ids.name}>Username</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} required />
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value)}>
          {ROLES.map((r) => <option key={r}>{r}</option>)}
        </select>
        <button type="submit" className="btn btn--primary">Add person</button>
      </form>
      {link && (
        <p className="notice" role="status">
          Give <strong>{link.who}</strong> this single-use sign-in link (valid 15 minutes): <code>{link.url}</code>
        </p>
      )}
      {error && <p className="notice notice--error" role="alert">{error}</p>}
      <table className="table" aria-label="People">
        <thead><tr><th>Username</th><th>Role</th><th>State</th><th>Actions</th></tr></thead>
        <tbody>
          {people.map((p) => (
            <tr key={p.id}>
              <td>{p.username}</td>
              <td>
                <select aria-label={`Role of ${p.username}`} value={p.role}
                  onChange={(e) => void act(() => admin.changePerson(p.username, { role: e.target.value }))}>
                  {ROLES.map((r) => <option key={r}>{r}</option>)}
                </select>
              </td>
              <td>{p.disabled ? "disabled" : p.has_password || p.source !== "local" ? "active" : "no password yet"}</td>
              <td className="row-actions">
                <button type="button" className="btn" onClick={() => void act(() => admin.changePerson(p.username, { disabled: !p.disabled }))}>
                  {p.disabled ? "Enable" : "Disable"}
                </button>
                {p.source === "local" && <button type="button" className="btn" onClick={() => reset(p.username)}>Reset (sign-in link)</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
