// Pure list logic, O(n log n): one pass to filter, one decorated sort (timestamps parsed
// once per task, not once per comparison).
import type { Task, TaskStatus } from "../../api/types";

export type SortKey = "newest" | "oldest" | "status";
export type StatusFilter = "all" | "active" | TaskStatus;

export interface TaskFilters {
  status: StatusFilter;
  patientId: string;
  documentType: string; // "" = all
}

export const DEFAULT_FILTERS: TaskFilters = { status: "all", patientId: "", documentType: "" };

/** Work in progress first, then what needs attention, then the finished. */
const STATUS_RANK: Record<TaskStatus, number> = {
  processing: 0,
  queued: 1,
  failed: 2,
  cancelled: 3,
  completed: 4,
};

function matchesStatus(status: TaskStatus, filter: StatusFilter): boolean {
  if (filter === "all") return true;
  if (filter === "active") return status === "queued" || status === "processing";
  return status === filter;
}

export function filterTasks(tasks: readonly Task[], f: TaskFilters): Task[] {
  const pid = f.patientId.trim().toLowerCase();
  return tasks.filter(
    (t) =>
      matchesStatus(t.status, f.status) &&
      (!f.documentType || t.document_type === f.documentType) &&
      (!pid || t.patient_id.toLowerCase().includes(pid)),
  );
}

export function sortTasks(tasks: readonly Task[], key: SortKey): Task[] {
  const decorated = tasks.map((task) => ({ task, time: Date.parse(task.created_at) || 0 }));
  decorated.sort((a, b) => {
    if (key === "oldest") return a.time - b.time;
    if (key === "status") {
      const byStatus = STATUS_RANK[a.task.status] - STATUS_RANK[b.task.status];
      if (byStatus !== 0) return byStatus;
    }
    return b.time - a.time;
  });
  return decorated.map((d) => d.task);
}
