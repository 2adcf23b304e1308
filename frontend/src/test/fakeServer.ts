// A scripted stand-in for the ocrlive WebSocket server (docs/protocol.md), injected into
// LiveClient as its WebSocket class. It keeps an event log so it can answer `subscribe`
// with `since` like the real one, and lets tests drop, reorder and replay frames.
import type { Task } from "../api/types";
import type { SocketConstructor, SocketLike } from "../live/transport";
import { makeTask } from "./factories";

export type Sent = Record<string, unknown> & { type: string; id?: number };

interface LoggedEvent {
  topic: string;
  seq: number;
  event: string;
  task: Task;
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  readonly sent: Sent[] = [];
  readonly subscriptions = new Set<string>();
  closedByClient: { code?: number; reason?: string } | null = null;

  constructor(
    readonly url: string,
    private readonly server: FakeServer,
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    const msg = JSON.parse(data) as Sent;
    this.sent.push(msg);
    this.server.handle(this, msg);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedByClient = { code, reason };
  }

  // ---- server side ----

  accept(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  deliver(msg: object): void {
    if (this.readyState !== 1) return;
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(msg) }));
  }

  deliverRaw(data: string): void {
    this.onmessage?.(new MessageEvent("message", { data }));
  }

  serverClose(code: number, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }

  sentOfType(type: string): Sent[] {
    return this.sent.filter((m) => m.type === type);
  }
}

export interface FakeServerOptions {
  /** Accept and send hello on every new socket (in a microtask). */
  autoAccept?: boolean;
  /** Answer subscribe/ping/ack/unsubscribe like the real server. */
  autoReply?: boolean;
  heartbeat?: number;
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  readonly tasks = new Map<string, Task>();
  epoch = "epoch-1";
  seq = 0;
  heartbeat: number;
  autoAccept: boolean;
  autoReply: boolean;
  private log: LoggedEvent[] = [];
  private logStart = 1;

  constructor(opts: FakeServerOptions = {}) {
    this.autoAccept = opts.autoAccept ?? true;
    this.autoReply = opts.autoReply ?? true;
    this.heartbeat = opts.heartbeat ?? 20;
  }

  get WebSocket(): SocketConstructor {
    const server = this;
    return class extends FakeSocket {
      constructor(url: string) {
        super(url, server);
        server.sockets.push(this);
        if (server.autoAccept) queueMicrotask(() => server.open(this));
      }
    };
  }

  get last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket yet");
    return s;
  }

  open(socket: FakeSocket): void {
    if (socket.readyState !== 0) return;
    socket.accept();
    socket.deliver(this.hello());
  }

  hello(): object {
    return {
      type: "hello",
      server: "ocrlive",
      version: "0.1.0",
      epoch: this.epoch,
      seq: this.seq,
      heartbeat: this.heartbeat,
    };
  }

  /** Changes a task and broadcasts the event, like the server's event log. */
  emit(event: string, patch: Partial<Task> & { id: string }): LoggedEvent[] {
    this.seq += 1;
    const prev = this.tasks.get(patch.id) ?? makeTask({ id: patch.id });
    const task: Task = { ...prev, ...patch, version: this.seq };
    this.tasks.set(task.id, task);
    const out: LoggedEvent[] = [];
    for (const topic of ["tasks", `task:${task.id}`]) {
      const ev = { topic, seq: this.seq, event, task };
      this.log.push(ev);
      out.push(ev);
      for (const s of this.sockets) if (s.subscriptions.has(topic)) s.deliver({ type: "event", ...ev });
    }
    return out;
  }

  /** Forgets the log so the next `since` cannot be recovered. */
  forgetLog(): void {
    this.logStart = this.seq + 1;
    this.log = [];
  }

  restartWithNewEpoch(): void {
    this.epoch = `epoch-${Math.random().toString(36).slice(2, 8)}`;
    this.forgetLog();
  }

  dropAll(code = 1006): void {
    for (const s of this.sockets) s.serverClose(code);
  }

  handle(socket: FakeSocket, msg: Sent): void {
    if (!this.autoReply) return;
    const id = msg.id;
    if (msg.type === "ping") return socket.deliver({ id, type: "result", ok: true, pong: true });
    if (msg.type === "ack") return socket.deliver({ id, type: "result", ok: true });
    if (msg.type === "unsubscribe") {
      socket.subscriptions.delete(String(msg.topic));
      return socket.deliver({ id, type: "result", ok: true, topic: msg.topic });
    }
    if (msg.type === "subscribe") this.subscribe(socket, msg);
  }

  private subscribe(socket: FakeSocket, msg: Sent): void {
    const topic = String(msg.topic);
    const since = typeof msg.since === "number" ? msg.since : null;
    const taskId = topic.startsWith("task:") ? topic.slice(5) : null;
    if (taskId && !this.tasks.has(taskId)) {
      const error = { code: "not_found", message: `No task with id ${taskId}` };
      return socket.deliver({ id: msg.id, type: "result", ok: false, error });
    }
    const recovered = since !== null && msg.epoch === this.epoch && since + 1 >= this.logStart;
    const snapshot = taskId ? this.tasks.get(taskId) : [...this.tasks.values()];
    socket.subscriptions.add(topic);
    socket.deliver({
      id: msg.id,
      type: "result",
      ok: true,
      topic,
      recovered,
      seq: this.seq,
      epoch: this.epoch,
      snapshot,
    });
    if (!recovered) return;
    for (const ev of this.log) {
      if (ev.topic === topic && ev.seq > since) socket.deliver({ type: "event", ...ev });
    }
  }
}
