import { useEffect, useId, useRef } from "react";
import { describeError, describeTaskError } from "../api/errors";
import { documentTypeLabel, isTerminal, type OcrResult } from "../api/types";
import { pageText, percent } from "../format";
import { useOcrProgress, type OcrProgress } from "../live/useOcrProgress";
import { ProgressBar } from "./ProgressBar";
import { StatusBadge, progressTone } from "./StatusBadge";
import { useSession } from "../auth/session";
import { useTaskActions } from "./useTaskActions";

interface Props {
  taskId: string;
  title?: string;
  onComplete?: (result: OcrResult) => void;
}

/** Calls onComplete once per task, when its result has arrived. */
function useOnComplete(p: OcrProgress, onComplete?: (result: OcrResult) => void): void {
  const reported = useRef<string | null>(null);
  useEffect(() => {
    if (!p.result || !p.taskId || reported.current === p.taskId) return;
    reported.current = p.taskId;
    onComplete?.(p.result);
  }, [p.result, p.taskId, onComplete]);
}

function Completion({ p }: { p: OcrProgress }) {
  if (p.status !== "completed") return null;
  if (p.resultError) {
    return (
      <div className="notice notice--error" role="alert">
        The document was read, but its text could not be loaded. {describeError(p.resultError)}
        <div className="row-actions">
          <button type="button" className="btn btn--small" onClick={p.reloadResult}>
            Load the text again
          </button>
        </div>
      </div>
    );
  }
  if (!p.result) return <p className="muted">{p.resultLoading ? "Loading the text…" : ""}</p>;
  const pages = p.result.pages.length;
  return (
    <p className="notice notice--done" role="status">
      <span aria-hidden="true">✓ </span>
      Text recognized: {pages} {pages === 1 ? "page" : "pages"}, average confidence{" "}
      {Math.round(p.result.score * 100)}%.
    </p>
  );
}

export function OcrProgressTracker({ taskId, title, onComplete }: Props) {
  const p = useOcrProgress(taskId);
  const actions = useTaskActions();
  const session = useSession();
  const headingId = useId();
  useOnComplete(p, onComplete);
  const task = p.task;

  if (!task) {
    return (
      <section className="card tracker" aria-labelledby={headingId}>
        <h2 id={headingId}>{title ?? "Document"}</h2>
        {p.error ? (
          <p role="alert" className="notice notice--error">
            {describeError(p.error)}
          </p>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </section>
    );
  }

  const running = !isTerminal(task.status) && session.can("task.cancel");
  const canRetry = (task.status === "failed" || task.status === "cancelled") && session.can("task.retry");
  const detail = pageText(task);
  return (
    <section className="card tracker" aria-labelledby={headingId}>
      <div className="tracker__head">
        <h2 id={headingId}>{title ?? task.filename}</h2>
        <StatusBadge status={task.status} />
      </div>
      <p className="muted tracker__meta">
        Patient <strong>{task.patient_id}</strong> · {documentTypeLabel(task.document_type)} ·{" "}
        {task.filename}
        {task.priority === "urgent" && <span className="tag tag--urgent">Urgent</span>}
      </p>
      <div className="tracker__bar">
        <ProgressBar
          value={p.progress}
          label={`OCR progress for ${task.filename}`}
          valueText={detail}
          tone={progressTone(task.status)}
        />
        <span className="tracker__pct">{percent(p.progress)}%</span>
      </div>
      <p className="tracker__stage">{detail}</p>
      {task.status === "processing" && p.message && p.message !== detail && (
        <p className="muted tracker__message">{p.message}</p>
      )}
      {task.status === "failed" && task.error && (
        <div className="notice notice--error" role="alert">
          <span aria-hidden="true">✕ </span>
          {describeTaskError(task.error)}
          <span className="muted"> ({task.error.code})</span>
        </div>
      )}
      <Completion p={p} />
      <div className="row-actions">
        {running && (
          <button type="button" className="btn" disabled={actions.busy} onClick={() => actions.cancel(task.id)}>
            Cancel
          </button>
        )}
        {canRetry && (
          <button type="button" className="btn btn--primary" disabled={actions.busy} onClick={() => actions.retry(task.id)}>
            Retry
          </button>
        )}
      </div>
      {actions.error && (
        <p className="notice notice--error" role="alert">
          {actions.error}
        </p>
      )}
    </section>
  );
}
