import type { TaskStatus } from "../api/types";
import { STATUS_META } from "../format";

export function StatusBadge({ status }: { status: TaskStatus }) {
  const meta = STATUS_META[status];
  return (
    <span className={`status status--${status}`}>
      <span className="status__icon" aria-hidden="true">
        {meta.icon}
      </span>
      <span className="status__label">{meta.label}</span>
    </span>
  );
}

export function progressTone(status: TaskStatus): "active" | "done" | "failed" | "muted" {
  if (status === "completed") return "done";
  if (status === "failed") return "failed";
  if (status === "cancelled") return "muted";
  return "active";
}
