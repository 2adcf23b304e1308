import { useEffect, useId, useState } from "react";
import { DOCUMENT_TYPES, TASK_STATUSES, documentTypeLabel, type SearchResponse } from "../../api/types";
import { useLive } from "../../live/context";
import { Snippet } from "./Snippet";
import { asTyped, shortDate, useDebounced, useTaskEvents } from "./useTaskEvents";

const PAGE_SIZE = 10;
/** Keystrokes closer together than this are one search (a fast typist's gap is ~150 ms). */
const DEBOUNCE_MS = 250;

interface Filters {
  patient_id: string;
  document_type: string;
  status: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { patient_id: "", document_type: "", status: "", from: "", to: "" };

interface Props {
  onOpen: (taskId: string, page: number) => void;
  onPatient: (patientId: string) => void;
}

function summary(q: string, found: SearchResponse | null, error: string, loading: boolean): string {
  if (error) return error;
  if (!q.trim()) return "";
  if (!found) return loading ? "Searching…" : "";
  if (found.total === 0) return `No pages match ${q.trim()}.`;
  const count = found.total_exact ? `${found.total}` : `More than ${found.total}`;
  const first = found.offset + 1;
  const last = found.offset + found.hits.length;
  const order = found.order === "recent" ? ", newest first; add words to rank them" : "";
  return `${count} pages match ${q.trim()}; showing ${first} to ${last}${order}.`;
}

export function SearchPanel({ onOpen, onPatient }: Props) {
  const { api } = useLive();
  const id = useId();
  const [q, setQ] = useState("");
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  const [found, setFound] = useState<SearchResponse | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const [generation, setGeneration] = useState(0);
  // A string, so that only a real change (not a re-render) restarts the debounce.
  const settled = useDebounced(JSON.stringify({ q, filters, offset }), DEBOUNCE_MS);

  // A correction, a finished reading or a re-run can change what matches: search again.
  useTaskEvents(["task.corrected", "task.completed"], () => setGeneration((g) => g + 1));

  useEffect(() => {
    const wanted = JSON.parse(settled) as { q: string; filters: Filters; offset: number };
    const query = asTyped(wanted.q);
    if (!query) {
      setFound(null);
      setError("");
      return;
    }
    const abort = new AbortController();
    setLoading(true);
    api.search({ q: query, ...wanted.filters, offset: wanted.offset, limit: PAGE_SIZE }, abort.signal).then(
      (res) => {
        setFound(res);
        setError("");
        setLoading(false);
      },
      (err: { code?: string; message?: string }) => {
        if (err.code === "aborted") return;
        setFound(null);
        setError(err.message ?? "Search failed");
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [api, settled, generation]);

  const setFilter = (name: keyof Filters, value: string) => {
    setFilters((f) => ({ ...f, [name]: value }));
    setOffset(0);
  };

  return (
    <div className="search">
      <form role="search" aria-label="Search documents" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={`${id}-q`}>Search text</label>
          <input
            id={`${id}-q`}
            type="search"
            value={q}
            autoComplete="off"
            aria-describedby={`${id}-help`}
            onChange={(e) => {
              setQ(e.target.value);
              setOffset(0);
            }}
          />
          <p id={`${id}-help`} className="muted search__help">
            Words, <code>pre*</code>, <code>"a phrase"</code>, <code>-without</code>
          </p>
        </div>
        <fieldset className="search__filters">
          <legend>Filters</legend>
          <label>
            Patient ID
            <input value={filters.patient_id} onChange={(e) => setFilter("patient_id", e.target.value.trim())} />
          </label>
          <label>
            Type
            <select value={filters.document_type} onChange={(e) => setFilter("document_type", e.target.value)}>
              <option value="">Any type</option>
              {DOCUMENT_TYPES.map((d) => (
                <option key={d.value} value={d.value}>
                  {d.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select value={filters.status} onChange={(e) => setFilter("status", e.target.value)}>
              <option value="">Any status</option>
              {TASK_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="date" value={filters.from} onChange={(e) => setFilter("from", e.target.value)} />
          </label>
          <label>
            To
            <input type="date" value={filters.to} onChange={(e) => setFilter("to", e.target.value)} />
          </label>
        </fieldset>
      </form>
      <p role="status" className="muted search__summary">
        {summary(q, found, error, loading)}
      </p>
      {found && found.hits.length > 0 && (
        <ol className="hit-list" aria-label="Search results">
          {found.hits.map((hit) => (
            <li key={`${hit.task.id}:${hit.page}`} className="hit">
              <button type="button" className="hit__open" onClick={() => onOpen(hit.task.id, hit.page)}>
                <span className="hit__title">
                  {hit.task.filename}, page {hit.page}
                </span>
                <span className="hit__meta">
                  {hit.task.patient_id} · {documentTypeLabel(hit.task.document_type)} · {shortDate(hit.task.created_at)}
                </span>
                <Snippet parts={hit.snippet} />
              </button>
              <button type="button" className="btn btn--small btn--ghost" onClick={() => onPatient(hit.task.patient_id)}>
                All documents of {hit.task.patient_id}
              </button>
            </li>
          ))}
        </ol>
      )}
      {found && found.total > PAGE_SIZE && (
        <div className="row-actions">
          <button type="button" className="btn btn--small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
            Previous results
          </button>
          <button
            type="button"
            className="btn btn--small"
            disabled={found.offset + found.hits.length >= found.total}
            onClick={() => setOffset(offset + PAGE_SIZE)}
          >
            Next results
          </button>
        </div>
      )}
    </div>
  );
}
