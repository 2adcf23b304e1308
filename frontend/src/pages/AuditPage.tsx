// The audit log: filter by person, patient, action and date; export a date range as CSV.
import { useCallback, useEffect, useId, useState, type FormEvent } from "react";
import { describeError, toCoded } from "../api/errors";
import { admin, type AuditEntry } from "../auth/api";

const FIELDS = [
  ["user", "Person"],
  ["patient_id", "Patient ID"],
  ["action", "Action"],
  ["from", "From (date)"],
  ["to", "To (date, exclusive)"],
] as const;

export function AuditPage() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const baseId = useId();

  const query = useCallback((f: Record<string, string>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    return q;
  }, []);
  const load = useCallback(async (f: Record<string, string>) => {
    setError(null);
    try {
      setEntries(await admin.audit(query(f)));
    } catch (err) {
      setError(describeError(toCoded(err)));
    }
  }, [query]);
  useEffect(() => void load({}), [load]);

  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    void load(filters);
  };
  const exportable = Boolean(filters.from && filters.to);

  return (
    <section className="card" aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <form className="inline-form" onSubmit={submit} aria-label="Filter the audit log">
        {FIELDS.map(([key, label]) => (
          <span key={key}>
            <label htmlFor={`${baseId}-${key}`}>{label}</label>
            <input
              id={`${baseId}-${key}`}
              type={key === "from" || key === "to" ? "date" : "text"}
              value={filters[key] ?? ""}
              onChange={(e) => setFilters({ ...filters, [key]: e.target.value })}
            />
          </span>
        ))}
        <button type="submit" className="btn btn--primary">Filter</button>
        {exportable ? (
          <a className="btn" href={`/api/audit/export.csv?${query(filters).toString()}`} download>Export CSV</a>
        ) : (
          <span className="muted">Choose From and To to export CSV.</span>
        )}
      </form>
      {error && <p className="notice notice--error" role="alert">{error}</p>}
      <table className="table" aria-label="Audit entries">
        <thead><tr><th>Time</th><th>Person</th><th>Role</th><th>Action</th><th>Outcome</th><th>Patient</th><th>Task</th><th>Address</th><th>Detail</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td>{e.at.replace("T", " ").slice(0, 19)}</td>
              <td>{e.username}</td>
              <td>{e.role}</td>
              <td>{e.action}</td>
              <td>{e.outcome}</td>
              <td>{e.patient_id ?? ""}</td>
              <td>{e.task_id ? e.task_id.slice(0, 8) : ""}</td>
              <td>{e.address}</td>
              <td>{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
