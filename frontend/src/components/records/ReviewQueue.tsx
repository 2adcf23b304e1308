import { useCallback, useEffect, useState } from "react";
import { documentTypeLabel, type ReviewEntry } from "../../api/types";
import { useLive } from "../../live/context";
import { useTaskEvents } from "./useTaskEvents";

interface Props {
  onOpen: (taskId: string, page: number) => void;
}

/** Documents with doubtful lines nobody has checked, the most doubtful first. */
export function ReviewQueue({ onOpen }: Props) {
  const { api } = useLive();
  const [entries, setEntries] = useState<ReviewEntry[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState("");

  const load = useCallback(() => {
    api.reviewQueue().then(
      (res) => {
        setEntries(res.documents);
        setTotal(res.total);
        setError("");
      },
      (err: { message?: string }) => setError(err.message ?? "Could not load the review queue"),
    );
  }, [api]);
  useEffect(load, [load]);
  useTaskEvents(["task.completed", "task.corrected"], load);

  if (error) return <p role="alert">{error}</p>;
  if (entries === null) return <p className="muted">Loading…</p>;
  return (
    <>
      <p role="status" className="muted">
        {total === 0 ? "Nothing to review." : `${total} documents have lines to review.`}
      </p>
      {entries.length > 0 && (
        <ol className="hit-list" aria-label="Documents to review">
          {entries.map((e) => (
            <li key={e.task.id} className="hit">
              <button type="button" className="hit__open" onClick={() => onOpen(e.task.id, 1)}>
                <span className="hit__title">{e.task.filename}</span>
                <span className="hit__meta">
                  {e.task.patient_id} · {documentTypeLabel(e.task.document_type)} · {e.pending}{" "}
                  {e.pending === 1 ? "line" : "lines"} to review, lowest confidence {Math.round(e.min_score * 100)}%
                </span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
