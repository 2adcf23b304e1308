import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffCeiling, backoffDelay } from "./backoff";
import { createHarness, flush, type Harness } from "../test/liveHarness";

let h: Harness;

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  h?.client.close();
  vi.useRealTimers();
});

async function start(clientOpts = {}): Promise<Harness> {
  h = createHarness({}, clientOpts);
  h.server.emit("task.created", { id: "a" });
  h.server.emit("task.created", { id: "b" });
  h.client.subscribeTopic("tasks");
  h.client.subscribeTopic("task:a");
  h.client.connect();
  await flush();
  return h;
}

describe("recovery after a dropped connection", () => {
  it("resubscribes every topic with its last seq and epoch, and replays what was missed", async () => {
    await start();
    h.server.emit("task.started", { id: "a", status: "processing" }); // seq 3
    h.server.dropAll(1006);
    expect(h.client.getSnapshot().connection.state).toBe("reconnecting");
    // Events the client misses while it is away:
    h.server.emit("task.progress", { id: "a", progress: 40 }); // 4
    h.server.emit("task.completed", { id: "a", status: "completed", progress: 100 }); // 5
    await flush(15_000);
    const subs = h.server.last.sentOfType("subscribe");
    expect(subs).toEqual([
      expect.objectContaining({ topic: "tasks", since: 3, epoch: "epoch-1" }),
      expect.objectContaining({ topic: "task:a", since: 3, epoch: "epoch-1" }),
    ]);
    expect(h.events.map((e) => [e.seq, e.event])).toEqual([
      [3, "task.started"],
      [4, "task.progress"],
      [5, "task.completed"],
    ]);
    expect(h.client.getSnapshot().tasks.get("a")?.status).toBe("completed");
    expect(h.client.getTopicPosition("tasks")).toEqual({ seq: 5, epoch: "epoch-1" });
  });

  it("ignores replayed and duplicated events (seq <= last seen)", async () => {
    await start();
    const [tasksEv] = h.server.emit("task.progress", { id: "a", progress: 30 }); // seq 3
    h.server.emit("task.progress", { id: "a", progress: 60 }); // seq 4
    h.server.last.deliver({ type: "event", ...tasksEv }); // replay of seq 3
    h.server.last.deliver({ type: "event", ...tasksEv, task: { ...tasksEv!.task, progress: 99 } });
    expect(h.events.map((e) => e.seq)).toEqual([3, 4]);
    expect(h.client.getSnapshot().tasks.get("a")?.progress).toBe(60);
  });

  it("keeps the newest task when events arrive out of order", async () => {
    h = createHarness({ autoReply: true });
    h.server.emit("task.created", { id: "a" });
    h.client.subscribeTopic("tasks");
    h.client.connect();
    await flush();
    const sock = h.server.last;
    const task = h.client.getSnapshot().tasks.get("a")!;
    const ev = (seq: number, progress: number) => ({
      type: "event",
      topic: "tasks",
      seq,
      event: "task.progress",
      task: { ...task, progress, version: seq },
    });
    sock.deliver(ev(7, 70));
    sock.deliver(ev(6, 60)); // late: older than what the topic already saw
    expect(h.client.getSnapshot().tasks.get("a")).toMatchObject({ progress: 70, version: 7 });
    expect(h.events.map((e) => e.seq)).toEqual([7]);
  });

  it("replaces state with the snapshot when recovery is impossible", async () => {
    await start();
    h.client.close();
    h.server.tasks.delete("b"); // gone from the server's list
    h.server.emit("task.progress", { id: "a", progress: 80 });
    h.server.forgetLog();
    h.client.reconnect();
    await flush();
    const snap = h.client.getSnapshot();
    expect(snap.tasks.has("b")).toBe(false);
    expect(snap.tasks.get("a")?.progress).toBe(80);
    expect(h.client.getTopicPosition("tasks")?.seq).toBe(h.server.seq);
  });

  it("accepts lower versions after the server's epoch changed", async () => {
    await start();
    h.server.emit("task.progress", { id: "a", progress: 90 });
    h.server.dropAll(1001);
    h.server.restartWithNewEpoch();
    h.server.seq = 0; // a fresh log restarts seq
    h.server.tasks.set("a", { ...h.server.tasks.get("a")!, progress: 10, version: 0 });
    await flush(15_000);
    expect(h.server.last.sentOfType("subscribe")[0]).toMatchObject({ epoch: "epoch-1" });
    h.server.emit("task.progress", { id: "a", progress: 20 }); // seq 1
    expect(h.client.getSnapshot().tasks.get("a")).toMatchObject({ progress: 20, version: 1 });
    expect(h.events.at(-1)?.seq).toBe(1);
  });
});

describe("close codes and backoff", () => {
  it("keeps full-jitter delays within [0, min(15 s, 500 ms * 2^n))", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 50].map((n) => backoffCeiling(n));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000, 15_000]);
    for (let n = 0; n < 12; n++) {
      for (const r of [0, 0.25, 0.5, 0.999999]) {
        const d = backoffDelay(n, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(backoffCeiling(n));
      }
    }
  });

  it("waits a jittered, growing, capped delay between failed attempts", async () => {
    const random = vi.fn(() => 0.999);
    await start({ random });
    h.server.autoAccept = false; // every reconnect attempt now fails
    h.server.dropAll(1006);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const info = h.client.getSnapshot().connection;
      expect(info.state).toBe("reconnecting");
      delays.push(info.retryAt! - Date.now());
      await flush(info.retryAt! - Date.now());
      h.server.last.serverClose(1006);
    }
    expect(delays).toEqual([499, 999, 1998, 3996, 7992, 14_985, 14_985, 14_985]);
    // The eighth failure scheduled a ninth attempt.
    expect(h.client.getSnapshot().connection.attempt).toBe(9);
  });

  it("stops and goes unauthorized on 4001", async () => {
    await start();
    h.server.last.serverClose(4001, "unauthorized");
    expect(h.client.getSnapshot().connection.state).toBe("unauthorized");
    await flush(120_000);
    expect(h.server.sockets).toHaveLength(1);
  });

  it("goes unauthorized when the server asks for a token the browser lacks", async () => {
    h = createHarness({ autoAccept: false });
    h.client.connect();
    h.server.last.accept();
    h.server.last.deliver({ type: "auth_required" });
    expect(h.client.getSnapshot().connection.state).toBe("unauthorized");
  });

  it.each([1001, 1006, 4002, 4003, 4008, 4009, 4010])("reconnects after close %i", async (code) => {
    await start();
    h.server.last.serverClose(code);
    expect(h.client.getSnapshot().connection).toMatchObject({ state: "reconnecting", lastCloseCode: code });
    await flush(15_000);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.client.getSnapshot().connection.state).toBe("open");
  });

  it("reports HTTP 401 as unauthorized and can be retried by hand", async () => {
    await start();
    h.client.reportUnauthorized();
    expect(h.client.getSnapshot().connection.state).toBe("unauthorized");
    h.client.reconnect();
    await flush();
    expect(h.client.getSnapshot().connection.state).toBe("open");
  });

  it("waits while the browser is offline and reconnects at once when back", async () => {
    await start();
    h.network.set(false);
    expect(h.client.getSnapshot().connection.state).toBe("offline");
    await flush(60_000);
    expect(h.server.sockets).toHaveLength(1);
    h.network.set(true);
    await flush();
    expect(h.server.sockets).toHaveLength(2);
    expect(h.client.getSnapshot().connection.state).toBe("open");
  });

  it("gives up on a socket that never says hello", async () => {
    await start({ helloTimeoutMs: 5000 });
    h.server.autoAccept = false;
    h.server.dropAll(1006);
    await flush(250); // jittered first retry
    const silent = h.server.last;
    expect(h.server.sockets).toHaveLength(2);
    await flush(4999);
    expect(silent.closedByClient).toBeNull();
    await flush(1);
    expect(silent.closedByClient).not.toBeNull();
    expect(h.client.getSnapshot().connection.state).toBe("reconnecting");
  });
});
