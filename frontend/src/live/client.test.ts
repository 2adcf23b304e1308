import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createHarness, flush, type Harness } from "../test/liveHarness";

let h: Harness;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  h?.client.close();
  vi.useRealTimers();
});

async function connected(): Promise<Harness> {
  h = createHarness();
  h.server.emit("task.created", { id: "a", status: "queued" });
  h.client.subscribeTopic("tasks");
  h.client.connect();
  await flush();
  return h;
}

describe("LiveClient: connecting and subscribing", () => {
  it("subscribes after hello and loads the snapshot", async () => {
    await connected();
    const snap = h.client.getSnapshot();
    expect(snap.connection.state).toBe("open");
    expect(snap.connection.epoch).toBe("epoch-1");
    expect(snap.tasks.get("a")?.status).toBe("queued");
    expect(snap.topics.get("tasks")?.status).toBe("live");
    const sub = h.server.last.sentOfType("subscribe")[0];
    expect(sub).toMatchObject({ topic: "tasks", since: null, epoch: null });
  });

  it("applies live events and calls onTaskEvent for each, in order", async () => {
    await connected();
    h.server.emit("task.started", { id: "a", status: "processing" });
    h.server.emit("task.progress", { id: "a", status: "processing", progress: 50 });
    expect(h.client.getSnapshot().tasks.get("a")?.progress).toBe(50);
    expect(h.events.map((e) => e.event)).toEqual(["task.started", "task.progress"]);
  });

  it("publishes a new snapshot object only when something changed", async () => {
    await connected();
    const before = h.client.getSnapshot();
    h.server.last.deliverRaw("not json");
    h.server.last.deliverRaw(JSON.stringify({ type: "event", topic: "tasks" }));
    expect(h.client.getSnapshot()).toBe(before);
    h.server.emit("task.progress", { id: "a", progress: 10 });
    const after = h.client.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.topics).toBe(before.topics); // untouched slices keep their identity
  });

  it("uses strictly increasing request ids, across reconnects too", async () => {
    await connected();
    h.client.subscribeTopic("task:a");
    h.server.emit("task.progress", { id: "a", progress: 5 });
    await flush(1000); // ack
    h.server.dropAll(1006);
    await flush(20_000);
    h.client.subscribeTopic("task:a");
    const ids = h.server.sockets.flatMap((s) => s.sent.map((m) => m.id));
    expect(ids.every((id) => typeof id === "number")).toBe(true);
    const nums = ids as number[];
    expect(nums.length).toBeGreaterThan(4);
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBeGreaterThan(nums[i - 1]!);
  });

  it("delivers an event that arrives on two topics to listeners once", async () => {
    await connected();
    h.client.subscribeTopic("task:a");
    await flush();
    h.server.emit("task.completed", { id: "a", status: "completed", progress: 100 });
    expect(h.events).toHaveLength(1);
    expect(h.client.getSnapshot().history.get("a")).toHaveLength(1);
  });

  it("marks a subscription to an unknown task as an error", async () => {
    await connected();
    h.client.subscribeTopic("task:nope");
    await flush();
    expect(h.client.getSnapshot().topics.get("task:nope")).toMatchObject({
      status: "error",
      error: { code: "not_found" },
    });
  });

  it("unsubscribes after the last holder releases, not before", async () => {
    await connected();
    const r1 = h.client.subscribeTopic("task:a");
    const r2 = h.client.subscribeTopic("task:a");
    r1();
    await flush(10);
    expect(h.server.last.sentOfType("unsubscribe")).toHaveLength(0);
    r2();
    await flush(10);
    expect(h.server.last.sentOfType("unsubscribe")).toEqual([
      expect.objectContaining({ topic: "task:a" }),
    ]);
    expect(h.client.getSnapshot().topics.has("task:a")).toBe(false);
  });

  it("keeps terminal transitions even when a burst of later events follows", async () => {
    await connected();
    h.server.emit("task.failed", { id: "a", status: "failed", error: { code: "timeout", message: "x" } });
    h.server.emit("task.requeued", { id: "a", status: "queued", error: null });
    h.server.emit("task.started", { id: "a", status: "processing" });
    h.server.emit("task.completed", { id: "a", status: "completed" });
    const history = h.client.getSnapshot().history.get("a") ?? [];
    expect(history.map((t) => t.status)).toEqual(["failed", "completed"]);
    expect(history[0]?.error?.code).toBe("timeout");
  });

  it("lets HTTP replies update the store, newer version wins", async () => {
    await connected();
    const current = h.client.getSnapshot().tasks.get("a")!;
    h.client.upsertTask({ ...current, status: "cancelled", version: current.version + 5 });
    expect(h.client.getSnapshot().tasks.get("a")?.status).toBe("cancelled");
    h.client.upsertTask({ ...current, status: "processing", version: current.version + 1 });
    expect(h.client.getSnapshot().tasks.get("a")?.status).toBe("cancelled");
  });
});

describe("LiveClient: acks and heartbeats", () => {
  it("acks the highest seq about once a second, only when it moved", async () => {
    await connected();
    await flush(1000);
    expect(h.server.last.sentOfType("ack")).toEqual([expect.objectContaining({ seq: 1 })]);
    h.server.emit("task.started", { id: "a" });
    h.server.emit("task.progress", { id: "a", progress: 3 });
    await flush(1000);
    await flush(1000);
    const acks = h.server.last.sentOfType("ack").map((m) => m.seq);
    expect(acks).toEqual([1, 3]);
  });

  it("pings every heartbeat and reconnects when no pong comes", async () => {
    await connected();
    await flush(20_000);
    expect(h.server.last.sentOfType("ping")).toHaveLength(1);
    h.server.autoReply = false;
    const first = h.server.last;
    await flush(20_000); // second ping, unanswered
    await flush(9_999);
    expect(first.closedByClient).toBeNull();
    await flush(1); // the pong timeout (10 s) ends it
    expect(first.closedByClient).toMatchObject({ code: 4000 });
    expect(h.client.getSnapshot().connection.state).toBe("reconnecting");
    h.server.autoReply = true;
    await flush(250);
    expect(h.server.sockets.length).toBe(2);
    expect(h.client.getSnapshot().connection.state).toBe("open");
  });
});
