// The normalized, immutable-snapshot store behind LiveClient. Writes go to drafts inside a
// batch and are published once at the end, so one frame (e.g. a 1000-task snapshot) costs
// one Map copy and one notification, and useSyncExternalStore sees stable references.
import type { CodedError, Task, TaskStatus } from "../api/types";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "offline" | "unauthorized";

export interface ConnectionInfo {
  readonly state: ConnectionState;
  /** Failed attempts since the last successful hello. */
  readonly attempt: number;
  /** Epoch ms of the next reconnect attempt while `reconnecting`, else null. */
  readonly retryAt: number | null;
  readonly lastCloseCode: number | null;
  readonly serverVersion: string | null;
  readonly epoch: string | null;
}

export type TopicStatus = "pending" | "live" | "error";

export interface TopicInfo {
  readonly status: TopicStatus;
  readonly error: CodedError | null;
}

/** A terminal transition, kept so a burst of later events cannot hide it. */
export interface TaskTransition {
  readonly seq: number;
  readonly event: string;
  readonly status: TaskStatus;
  readonly error: CodedError | null;
  readonly at: string;
}

export interface LiveSnapshot {
  readonly connection: ConnectionInfo;
  readonly tasks: ReadonlyMap<string, Task>;
  readonly topics: ReadonlyMap<string, TopicInfo>;
  readonly history: ReadonlyMap<string, readonly TaskTransition[]>;
}

export type Listener = () => void;

const HISTORY_LIMIT = 20;

export const INITIAL_CONNECTION: ConnectionInfo = {
  state: "connecting",
  attempt: 0,
  retryAt: null,
  lastCloseCode: null,
  serverVersion: null,
  epoch: null,
};

export class LiveStore {
  private snap: LiveSnapshot = {
    connection: INITIAL_CONNECTION,
    tasks: new Map(),
    topics: new Map(),
    history: new Map(),
  };
  private draftTasks: Map<string, Task> | null = null;
  private draftTopics: Map<string, TopicInfo> | null = null;
  private draftHistory: Map<string, readonly TaskTransition[]> | null = null;
  private draftConnection: ConnectionInfo | null = null;
  private depth = 0;
  private readonly listeners = new Set<Listener>();

  getSnapshot = (): LiveSnapshot => this.snap;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  batch<T>(fn: () => T): T {
    this.depth += 1;
    try {
      return fn();
    } finally {
      this.depth -= 1;
      if (this.depth === 0) this.publish();
    }
  }

  /** Reads see uncommitted writes of the current batch. */
  task(id: string): Task | undefined {
    return (this.draftTasks ?? this.snap.tasks).get(id);
  }

  taskIds(): string[] {
    return [...(this.draftTasks ?? this.snap.tasks).keys()];
  }

  connection(): ConnectionInfo {
    return this.draftConnection ?? this.snap.connection;
  }

  setTask(task: Task): void {
    this.batch(() => this.tasksDraft().set(task.id, task));
  }

  deleteTask(id: string): void {
    this.batch(() => {
      if ((this.draftTasks ?? this.snap.tasks).has(id)) this.tasksDraft().delete(id);
    });
  }

  setConnection(patch: Partial<ConnectionInfo>): void {
    this.batch(() => {
      this.draftConnection = { ...this.connection(), ...patch };
    });
  }

  setTopic(topic: string, info: TopicInfo | null): void {
    this.batch(() => {
      const draft = this.topicsDraft();
      if (info) draft.set(topic, info);
      else draft.delete(topic);
    });
  }

  addTransition(taskId: string, t: TaskTransition): void {
    this.batch(() => {
      const draft = this.historyDraft();
      const prev = draft.get(taskId) ?? [];
      draft.set(taskId, [...prev, t].slice(-HISTORY_LIMIT));
    });
  }

  private tasksDraft(): Map<string, Task> {
    this.draftTasks ??= new Map(this.snap.tasks);
    return this.draftTasks;
  }

  private topicsDraft(): Map<string, TopicInfo> {
    this.draftTopics ??= new Map(this.snap.topics);
    return this.draftTopics;
  }

  private historyDraft(): Map<string, readonly TaskTransition[]> {
    this.draftHistory ??= new Map(this.snap.history);
    return this.draftHistory;
  }

  private publish(): void {
    const changed =
      this.draftTasks || this.draftTopics || this.draftHistory || this.draftConnection;
    if (!changed) return;
    this.snap = {
      connection: this.draftConnection ?? this.snap.connection,
      tasks: this.draftTasks ?? this.snap.tasks,
      topics: this.draftTopics ?? this.snap.topics,
      history: this.draftHistory ?? this.snap.history,
    };
    this.draftTasks = this.draftTopics = this.draftHistory = null;
    this.draftConnection = null;
    for (const l of [...this.listeners]) l();
  }
}
