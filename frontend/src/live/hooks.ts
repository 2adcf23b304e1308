// Thin React bindings over LiveClient: every read goes through useSyncExternalStore with a
// selector that returns an existing object, so components re-render only when their slice
// of the snapshot is replaced.
import { useEffect, useSyncExternalStore } from "react";
import type { Task } from "../api/types";
import { useLive } from "./context";
import { taskTopic } from "./protocol";
import type { ResultState } from "./results";
import type { ConnectionInfo, LiveSnapshot, TaskTransition, TopicInfo } from "./store";

const NO_HISTORY: readonly TaskTransition[] = [];

export function useLiveSelector<T>(selector: (snap: LiveSnapshot) => T): T {
  const { client } = useLive();
  return useSyncExternalStore(client.subscribe, () => selector(client.getSnapshot()));
}

export function useConnection(): ConnectionInfo {
  return useLiveSelector((s) => s.connection);
}

/** Holds a subscription to `topic` while mounted; null holds none. */
export function useTopic(topic: string | null): TopicInfo | undefined {
  const { client } = useLive();
  useEffect(() => (topic ? client.subscribeTopic(topic) : undefined), [client, topic]);
  return useLiveSelector((s) => (topic ? s.topics.get(topic) : undefined));
}

/** A task kept live through its own `task:<id>` topic. */
export function useLiveTask(taskId: string | null): {
  task: Task | undefined;
  topic: TopicInfo | undefined;
  history: readonly TaskTransition[];
} {
  const topic = useTopic(taskId ? taskTopic(taskId) : null);
  const task = useLiveSelector((s) => (taskId ? s.tasks.get(taskId) : undefined));
  const history = useLiveSelector((s) => (taskId ? s.history.get(taskId) : undefined));
  return { task, topic, history: history ?? NO_HISTORY };
}

/** The OCR result of a task, fetched once it is completed (undefined before). */
export function useTaskResult(taskId: string | null, completed: boolean): ResultState | undefined {
  const { results } = useLive();
  useEffect(() => {
    if (taskId && completed) results.ensure(taskId);
  }, [results, taskId, completed]);
  const state = useSyncExternalStore(results.subscribe, () =>
    taskId ? results.get(taskId) : undefined,
  );
  return completed ? state : undefined;
}
