// The seed's useOcrProgress, rebuilt over the shared client: everything it returns is
// derived from the store, so two components following one task agree at every render.
import { useCallback, useState } from "react";
import { useLive } from "./context";
import type { CodedError, OcrResult, Task, TaskStatus } from "../api/types";
import { useConnection, useLiveTask, useTaskResult } from "./hooks";
import type { ConnectionState, TaskTransition } from "./store";

export interface OcrProgress {
  taskId: string | null;
  connected: boolean;
  connection: ConnectionState;
  /** 0-100. */
  progress: number;
  status: TaskStatus | null;
  message: string;
  stage: string | null;
  pagesDone: number;
  pagesTotal: number;
  /** null until the task completed and its result arrived. */
  result: OcrResult | null;
  resultLoading: boolean;
  /** Fetching the result failed (the task itself completed). */
  resultError: CodedError | null;
  /** Fetches the result again after resultError. */
  reloadResult: () => void;
  /** The task's error, else a subscription or result-fetch error. */
  error: CodedError | null;
  task: Task | null;
  /** Terminal transitions (completed / failed / cancelled), oldest first. */
  history: readonly TaskTransition[];
  subscribeToTask: (taskId: string | null) => void;
}

/** Follows `taskId`; subscribeToTask switches to another task until the prop changes. */
function useFollowedId(taskId: string | null): [string | null, (id: string | null) => void] {
  const [state, setState] = useState({ prop: taskId, id: taskId });
  let current = state.id;
  if (state.prop !== taskId) {
    // Adjusting state during render is React's documented way to reset on a prop change.
    setState({ prop: taskId, id: taskId });
    current = taskId;
  }
  const follow = useCallback((id: string | null) => setState((s) => ({ ...s, id })), []);
  return [current, follow];
}

export function useOcrProgress(taskId: string | null): OcrProgress {
  const [id, subscribeToTask] = useFollowedId(taskId);
  const connection = useConnection();
  const { task, topic, history } = useLiveTask(id);
  const completed = task?.status === "completed";
  const resultState = useTaskResult(id, completed);
  const { results } = useLive();
  const reloadResult = useCallback(() => {
    if (id) results.ensure(id);
  }, [results, id]);

  const resultError = resultState?.status === "error" ? resultState.error : null;
  const error =
    task?.error ??
    (topic?.status === "error" ? topic.error : null) ??
    (resultError ? { code: resultError.code, message: resultError.message } : null);

  return {
    taskId: id,
    connected: connection.state === "open",
    connection: connection.state,
    progress: clampPercent(task?.progress ?? 0),
    status: task?.status ?? null,
    message: task?.message ?? "",
    stage: task?.stage ?? null,
    pagesDone: task?.pages_done ?? 0,
    pagesTotal: task?.pages_total ?? 0,
    result: resultState?.status === "ready" ? resultState.result : null,
    resultLoading: resultState?.status === "loading",
    resultError: resultError ? { code: resultError.code, message: resultError.message } : null,
    reloadResult,
    error,
    task: task ?? null,
    history,
    subscribeToTask,
  };
}

export function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, value));
}
