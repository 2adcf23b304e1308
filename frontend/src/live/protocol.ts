// Wire messages of GET /api/ws (docs/protocol.md) and a defensive parser: a frame that
// does not match is dropped rather than trusted, so one bad frame cannot corrupt the store.
import type { CodedError, Task, TaskStatus } from "../api/types";
import { TASK_STATUSES } from "../api/types";

// Close codes and event names as the server defines them (generated from the backend).
export { CloseCode, TERMINAL_EVENTS, type TaskEventName } from "../api/vocabulary";
import type { TaskEventName } from "../api/vocabulary";

/** Closed by this client to replace a socket that went silent (not a server code). */
export const CLIENT_DROPPED = 4000;

export interface HelloMessage {
  type: "hello";
  server: string;
  version: string;
  epoch: string;
  seq: number;
  heartbeat: number;
}

export interface AuthRequiredMessage {
  type: "auth_required";
}

export interface ResultMessage {
  type: "result";
  id: number;
  ok: boolean;
  error?: CodedError;
  topic?: string;
  recovered?: boolean;
  seq?: number;
  epoch?: string;
  snapshot?: unknown;
  pong?: boolean;
}

export interface EventMessage {
  type: "event";
  topic: string;
  seq: number;
  event: TaskEventName | string;
  task: Task;
}

export type ServerMessage = HelloMessage | AuthRequiredMessage | ResultMessage | EventMessage;

export type ClientMessage =
  | { type: "auth"; token: string }
  | { id: number; type: "subscribe"; topic: string; since: number | null; epoch: string | null }
  | { id: number; type: "unsubscribe"; topic: string }
  | { id: number; type: "ack"; seq: number }
  | { id: number; type: "ping" };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function isTaskStatus(v: unknown): v is TaskStatus {
  return isStr(v) && (TASK_STATUSES as readonly string[]).includes(v);
}

function isCodedError(v: unknown): v is CodedError {
  return isObj(v) && isStr(v.code) && isStr(v.message);
}

/** Checks the fields the UI relies on; unknown extra fields pass through untouched. */
export function isTask(v: unknown): v is Task {
  return (
    isObj(v) &&
    isStr(v.id) &&
    isNum(v.version) &&
    isTaskStatus(v.status) &&
    isNum(v.progress) &&
    (v.error === null || v.error === undefined || isCodedError(v.error))
  );
}

function parseHello(o: Obj): HelloMessage | null {
  if (!isStr(o.epoch) || !isNum(o.seq) || !isNum(o.heartbeat)) return null;
  return {
    type: "hello",
    server: isStr(o.server) ? o.server : "",
    version: isStr(o.version) ? o.version : "",
    epoch: o.epoch,
    seq: o.seq,
    heartbeat: o.heartbeat,
  };
}

function parseResult(o: Obj): ResultMessage | null {
  if (!isNum(o.id)) return null;
  const msg: ResultMessage = { type: "result", id: o.id, ok: o.ok === true };
  if (isCodedError(o.error)) msg.error = o.error;
  if (isStr(o.topic)) msg.topic = o.topic;
  if (typeof o.recovered === "boolean") msg.recovered = o.recovered;
  if (isNum(o.seq)) msg.seq = o.seq;
  if (isStr(o.epoch)) msg.epoch = o.epoch;
  if ("snapshot" in o) msg.snapshot = o.snapshot;
  if (o.pong === true) msg.pong = true;
  return msg;
}

function parseEvent(o: Obj): EventMessage | null {
  if (!isStr(o.topic) || !isNum(o.seq) || !isStr(o.event) || !isTask(o.task)) return null;
  return { type: "event", topic: o.topic, seq: o.seq, event: o.event, task: o.task };
}

export function parseServerMessage(data: unknown): ServerMessage | null {
  if (!isStr(data)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObj(raw)) return null;
  switch (raw.type) {
    case "hello":
      return parseHello(raw);
    case "auth_required":
      return { type: "auth_required" };
    case "result":
      return parseResult(raw);
    case "event":
      return parseEvent(raw);
    default:
      return null;
  }
}

/** `tasks` snapshots are a list, `task:<id>` snapshots a single Task. */
export function snapshotTasks(snapshot: unknown): Task[] {
  if (Array.isArray(snapshot)) return snapshot.filter(isTask);
  return isTask(snapshot) ? [snapshot] : [];
}

export function taskTopic(id: string): string {
  return `task:${id}`;
}

export function topicTaskId(topic: string): string | null {
  return topic.startsWith("task:") ? topic.slice("task:".length) : null;
}
