import { useMemo } from "react";
import type { Task } from "../api/types";
import { useConnection, useLiveSelector, useTopic } from "./hooks";
import type { ConnectionInfo, TopicInfo } from "./store";

export interface ActiveTasks {
  /** Every task the page knows: queued, processing and the server's recent finished ones. */
  tasks: readonly Task[];
  connection: ConnectionInfo;
  connected: boolean;
  topic: TopicInfo | undefined;
}

export function useActiveTasks(): ActiveTasks {
  const topic = useTopic("tasks");
  const map = useLiveSelector((s) => s.tasks);
  const connection = useConnection();
  // One array per store change, not per render; rows are memoized on task identity.
  const tasks = useMemo(() => [...map.values()], [map]);
  return { tasks, connection, connected: connection.state === "open", topic };
}
