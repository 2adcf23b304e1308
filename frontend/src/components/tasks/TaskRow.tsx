import { memo } from "react";
import { documentTypeLabel, isTerminal, type Task } from "../../api/types";
import { STATUS_META, formatTime, pageText } from "../../format";
import { ProgressBar } from "../ProgressBar";
import { StatusBadge, progressTone } from "../StatusBadge";

interface Props {
  task: Task;
  selected: boolean;
  onSelect: (taskId: string) => void;
  onCancel: (taskId: string) => void;
}

/**
 * Memoized on the task object: the store replaces a task's object only when that task
 * changes, so a progress event re-renders one row, not a thousand.
 */
export const TaskRow = memo(function TaskRow({ task, selected, onSelect, onCancel }: Props) {
  const detail = pageText(task);
  const time = formatTime(task.created_at);
  // Spoken as one sentence; the visual spans would otherwise run together ("QueuedP-9…").
  const label = [
    STATUS_META[task.status].label,
    `patient ${task.patient_id}`,
    documentTypeLabel(task.document_type),
    task.filename,
    task.priority === "urgent" ? "urgent" : "",
    time ? `uploaded ${time}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <li className={`task-row${selected ? " is-selected" : ""}`} data-task-id={task.id}>
      {/* A native button gives Enter/Space selection and focus for free. */}
      <button
        type="button"
        className="task-row__main"
        aria-label={label}
        aria-current={selected ? "true" : undefined}
        onClick={() => onSelect(task.id)}
      >
        <StatusBadge status={task.status} />
        <span className="task-row__patient">{task.patient_id}</span>
        <span className="task-row__type">{documentTypeLabel(task.document_type)}</span>
        <span className="task-row__file">{task.filename}</span>
        {task.priority === "urgent" && <span className="tag tag--urgent">Urgent</span>}
        <time className="task-row__time" dateTime={task.created_at}>
          {time}
        </time>
      </button>
      <div className="task-row__progress">
        <ProgressBar
          value={task.progress}
          label={`OCR progress for ${task.filename}, patient ${task.patient_id}`}
          valueText={detail}
          tone={progressTone(task.status)}
        />
        <span className="task-row__detail muted">{detail}</span>
      </div>
      {!isTerminal(task.status) && (
        <button
          type="button"
          className="btn btn--small btn--ghost task-row__cancel"
          aria-label={`Cancel ${task.filename} for patient ${task.patient_id}`}
          onClick={() => onCancel(task.id)}
        >
          Cancel
        </button>
      )}
    </li>
  );
});
