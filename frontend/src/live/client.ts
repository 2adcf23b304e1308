// Framework-free live client for GET /api/ws (docs/protocol.md), in the spirit of
// centrifuge-js + TanStack Query core: reference-counted topic subscriptions that resume
// from their last seq, and a normalized store with immutable snapshots that React reads
// through useSyncExternalStore. No React in here on purpose.
import type { Task } from "../api/types";
import { TaskApplier } from "./apply";
import { LiveConnection, type ConnectionOptions } from "./connection";
import type { EventMessage, HelloMessage, ResultMessage } from "./protocol";
import { snapshotTasks, taskTopic } from "./protocol";
import { LiveStore, type LiveSnapshot } from "./store";
import { NamedTimers } from "./timers";

export interface LiveClientOptions extends ConnectionOptions {
  /** How often the highest seen seq is acked, when it moved. */
  ackIntervalMs?: number;
  /** Grace period before unsubscribing, so a quick unmount/remount keeps its position. */
  unsubscribeDelayMs?: number;
}

export type TaskEventListener = (event: EventMessage) => void;

export interface TopicPosition {
  seq: number | null;
  epoch: string | null;
}

interface TopicRecord {
  refs: number;
  lastSeq: number | null;
  epoch: string | null;
  requestId: number | null;
  live: boolean;
  releaseTimer: ReturnType<typeof setTimeout> | null;
}

export class LiveClient {
  readonly subscribe: LiveStore["subscribe"];
  readonly getSnapshot: () => LiveSnapshot;

  private readonly store = new LiveStore();
  private readonly applier = new TaskApplier(this.store);
  private readonly conn: LiveConnection;
  private readonly topics = new Map<string, TopicRecord>();
  private readonly subscribeRequests = new Map<number, string>();
  private readonly eventListeners = new Set<TaskEventListener>();
  private readonly timers = new NamedTimers<"ack">();
  private highestSeq = 0;
  private ackedSeq = 0;
  private epoch: string | null = null;

  constructor(private readonly opts: LiveClientOptions) {
    this.subscribe = this.store.subscribe;
    this.getSnapshot = this.store.getSnapshot;
    this.conn = new LiveConnection(opts, {
      status: (patch) => this.store.setConnection(patch),
      hello: (msg) => this.onHello(msg),
      message: (msg) => (msg.type === "event" ? this.onEvent(msg) : this.onResult(msg)),
      down: () => this.onDown(),
    });
  }

  /** Opens the socket; reconnects on its own from then on. */
  connect(): void {
    this.conn.start();
  }

  /** Stops for good (page teardown). */
  close(): void {
    this.conn.stop();
  }

  /** "Reconnect now" from the UI, e.g. after logging in again in another tab. */
  reconnect(): void {
    this.conn.reconnectNow();
  }

  /** An HTTP call got 401: the session cookie is gone, so the socket's is too. */
  reportUnauthorized(): void {
    this.conn.goUnauthorized();
  }

  /** Subscribes `tasks` or `task:<id>`; returns the release function. */
  subscribeTopic(topic: string): () => void {
    const rec = this.topics.get(topic);
    if (rec) {
      rec.refs += 1;
      clearRelease(rec);
    } else {
      this.topics.set(topic, newTopic());
      this.store.setTopic(topic, { status: "pending", error: null });
      if (this.conn.isOpen) this.sendSubscribe(topic);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(topic);
    };
  }

  /** Called once for every event, in seq order per task, after the store applied it. */
  onTaskEvent(listener: TaskEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Tasks from HTTP replies (upload, cancel, retry) so the UI need not wait for the event. */
  upsertTask(task: Task): void {
    this.store.batch(() => this.applier.upsert(task));
  }

  getTopicPosition(topic: string): TopicPosition | null {
    const rec = this.topics.get(topic);
    return rec ? { seq: rec.lastSeq, epoch: rec.epoch } : null;
  }

  // ---- connection callbacks ------------------------------------------------------------

  private onHello(msg: HelloMessage): void {
    if (this.epoch !== null && this.epoch !== msg.epoch) this.highestSeq = this.ackedSeq = 0;
    this.epoch = msg.epoch;
    this.applier.setEpoch(msg.epoch);
    this.timers.interval("ack", this.opts.ackIntervalMs ?? 1000, () => this.flushAck());
    for (const [topic, rec] of this.topics) if (rec.refs > 0) this.sendSubscribe(topic);
  }

  /** The server forgets subscriptions with the socket; topics keep their positions. */
  private onDown(): void {
    this.timers.clear("ack");
    this.subscribeRequests.clear();
    this.store.batch(() => {
      for (const [topic, rec] of this.topics) {
        if (rec.refs === 0) {
          this.dropTopic(topic, rec);
          continue;
        }
        rec.live = false;
        rec.requestId = null;
        this.store.setTopic(topic, { status: "pending", error: null });
      }
    });
  }

  private onResult(msg: ResultMessage): void {
    const topic = this.subscribeRequests.get(msg.id);
    this.subscribeRequests.delete(msg.id);
    if (topic !== undefined) this.onSubscribed(topic, msg);
    else if (!msg.ok && msg.error) this.log(`request ${msg.id} failed: ${msg.error.code}`);
  }

  private onSubscribed(topic: string, msg: ResultMessage): void {
    const rec = this.topics.get(topic);
    if (!rec || rec.requestId !== msg.id) return; // superseded by a newer subscribe
    rec.requestId = null;
    if (!msg.ok) {
      const error = msg.error ?? { code: "unknown", message: "Subscription failed" };
      return this.store.setTopic(topic, { status: "error", error });
    }
    const tasks = snapshotTasks(msg.snapshot);
    this.store.batch(() => {
      if (msg.recovered) {
        // The missed events follow; lastSeq stays so they pass the duplicate check.
        for (const t of tasks) this.applier.upsert(t);
      } else {
        this.replaceTopicState(topic, tasks);
        rec.lastSeq = msg.seq ?? null;
        if (msg.seq !== undefined) this.noteSeq(msg.seq);
      }
      rec.epoch = msg.epoch ?? this.epoch;
      rec.live = true;
      this.store.setTopic(topic, { status: "live", error: null });
    });
  }

  private replaceTopicState(topic: string, tasks: Task[]): void {
    if (topic !== "tasks") return tasks.forEach((t) => this.applier.replace(t));
    // Tasks another topic still follows (the selected one) must survive the replacement.
    const pinned = (id: string): boolean => (this.topics.get(taskTopic(id))?.refs ?? 0) > 0;
    this.applier.replaceAll(tasks, pinned);
  }

  private onEvent(msg: EventMessage): void {
    const rec = this.topics.get(msg.topic);
    if (!rec || !rec.live) return;
    if (rec.lastSeq !== null && msg.seq <= rec.lastSeq) return; // replayed or duplicated
    rec.lastSeq = msg.seq;
    this.noteSeq(msg.seq);
    const firstSighting = this.store.batch(() => this.applier.applyEvent(msg));
    if (firstSighting) this.emit(msg);
  }

  private emit(msg: EventMessage): void {
    for (const listener of [...this.eventListeners]) {
      try {
        listener(msg);
      } catch (err) {
        this.log(`task event listener threw: ${String(err)}`);
      }
    }
  }

  // ---- outbound ------------------------------------------------------------------------

  private sendSubscribe(topic: string): void {
    const rec = this.topics.get(topic);
    if (!rec) return;
    const id = this.conn.nextId();
    rec.requestId = id;
    rec.live = false;
    this.subscribeRequests.set(id, topic);
    this.store.setTopic(topic, { status: "pending", error: null });
    this.conn.send({ id, type: "subscribe", topic, since: rec.lastSeq, epoch: rec.epoch });
  }

  private release(topic: string): void {
    const rec = this.topics.get(topic);
    if (!rec) return;
    rec.refs -= 1;
    if (rec.refs > 0) return;
    const delay = this.opts.unsubscribeDelayMs ?? 1000;
    rec.releaseTimer = setTimeout(() => this.finishRelease(topic), delay);
  }

  private finishRelease(topic: string): void {
    const rec = this.topics.get(topic);
    if (!rec || rec.refs > 0) return;
    this.dropTopic(topic, rec);
    if (this.conn.isOpen) this.conn.send({ id: this.conn.nextId(), type: "unsubscribe", topic });
  }

  private dropTopic(topic: string, rec: TopicRecord): void {
    clearRelease(rec);
    this.topics.delete(topic);
    this.store.setTopic(topic, null);
  }

  private flushAck(): void {
    if (this.highestSeq <= this.ackedSeq) return;
    if (this.conn.send({ id: this.conn.nextId(), type: "ack", seq: this.highestSeq })) {
      this.ackedSeq = this.highestSeq;
    }
  }

  private noteSeq(seq: number): void {
    if (seq > this.highestSeq) this.highestSeq = seq;
  }

  private log(message: string): void {
    this.opts.log?.(message);
  }
}

function newTopic(): TopicRecord {
  return { refs: 1, lastSeq: null, epoch: null, requestId: null, live: false, releaseTimer: null };
}

function clearRelease(rec: TopicRecord): void {
  if (rec.releaseTimer) clearTimeout(rec.releaseTimer);
  rec.releaseTimer = null;
}
