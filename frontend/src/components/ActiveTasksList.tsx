import { useCallback, useDeferredValue, useEffect, useMemo, useRef, useState } from "react";
import { useActiveTasks } from "../live/useActiveTasks";
import { DEFAULT_FILTERS, filterTasks, sortTasks, type SortKey, type TaskFilters } from "./tasks/filterSort";
import { TaskFiltersBar } from "./tasks/TaskFiltersBar";
import { TaskRow } from "./tasks/TaskRow";
import { useTaskActions } from "./useTaskActions";

interface Props {
  onSelectTask: (taskId: string) => void;
  selectedTaskId?: string | null;
  /** Rows rendered per "Show more"; keeps the DOM small with thousands of tasks. */
  pageSize?: number;
}

export function ActiveTasksList({ onSelectTask, selectedTaskId = null, pageSize = 100 }: Props) {
  const { tasks, topic } = useActiveTasks();
  const actions = useTaskActions();
  const [filters, setFilters] = useState<TaskFilters>(DEFAULT_FILTERS);
  const [sort, setSort] = useState<SortKey>("status");
  const [limit, setLimit] = useState(pageSize);
  // Typing in the patient filter stays responsive while a big list re-filters.
  const deferredFilters = useDeferredValue(filters);

  const visible = useMemo(
    () => sortTasks(filterTasks(tasks, deferredFilters), sort),
    [tasks, deferredFilters, sort],
  );
  useEffect(() => setLimit(pageSize), [deferredFilters, sort, pageSize]);

  // Stable callbacks keep the memoized rows from re-rendering when the parent does.
  const onSelectRef = useRef(onSelectTask);
  useEffect(() => {
    onSelectRef.current = onSelectTask;
  });
  const select = useCallback((id: string) => onSelectRef.current(id), []);
  const { cancel } = actions;
  const cancelTask = useCallback((id: string) => void cancel(id), [cancel]);

  const shown = visible.slice(0, limit);
  return (
    <div className="tasks">
      <TaskFiltersBar filters={filters} sort={sort} onFilters={setFilters} onSort={setSort} />
      <p className="muted tasks__count">
        {shown.length < visible.length
          ? `Showing ${shown.length} of ${visible.length} tasks`
          : `${visible.length} ${visible.length === 1 ? "task" : "tasks"}`}
        {tasks.length !== visible.length && ` (${tasks.length} in total)`}
      </p>
      {actions.error && (
        <p className="notice notice--error" role="alert">
          {actions.error}
        </p>
      )}
      {topic?.status === "pending" && tasks.length === 0 && <p className="muted">Loading tasks…</p>}
      <ul className="task-list" aria-label="Tasks">
        {shown.map((t) => (
          <TaskRow key={t.id} task={t} selected={t.id === selectedTaskId} onSelect={select} onCancel={cancelTask} />
        ))}
      </ul>
      {shown.length < visible.length && (
        <button type="button" className="btn" onClick={() => setLimit((l) => l + pageSize)}>
          Show {Math.min(pageSize, visible.length - shown.length)} more
        </button>
      )}
    </div>
  );
}
