import { act, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { makeResult } from "../test/factories";
import { createLiveEnv, json, renderLiveHook, type LiveEnv } from "../test/renderLive";
import { useActiveTasks } from "./useActiveTasks";
import { useOcrProgress } from "./useOcrProgress";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

function setup(): LiveEnv {
  env = createLiveEnv();
  env.server.emit("task.created", { id: "a", filename: "letter.pdf", status: "queued" });
  env.routes.set("GET /api/tasks/a/result", () => json(200, makeResult("a")));
  return env;
}

describe("useOcrProgress", () => {
  it("follows a task to completion, sees every terminal event and fetches the result", async () => {
    setup();
    const { result } = renderLiveHook(() => useOcrProgress("a"), env);
    await waitFor(() => expect(result.current.connected).toBe(true));
    await waitFor(() => expect(result.current.status).toBe("queued"));
    expect(result.current.result).toBeNull();

    act(() => {
      env.server.emit("task.started", { id: "a", status: "processing", stage: "loading", pages_total: 5 });
      env.server.emit("task.progress", {
        id: "a",
        progress: 42.5,
        stage: "recognizing",
        pages_done: 1,
        message: "Page 2 of 5: recognizing text",
      });
    });
    expect(result.current).toMatchObject({
      progress: 42.5,
      stage: "recognizing",
      pagesDone: 1,
      pagesTotal: 5,
      message: "Page 2 of 5: recognizing text",
    });

    // A burst inside one render: the failure must not be hidden by what follows it.
    act(() => {
      env.server.emit("task.failed", { id: "a", status: "failed", error: { code: "worker_crashed", message: "died" } });
      env.server.emit("task.requeued", { id: "a", status: "queued", error: null, progress: 0 });
      env.server.emit("task.started", { id: "a", status: "processing" });
      env.server.emit("task.completed", { id: "a", status: "completed", stage: "done", progress: 100, pages_done: 5 });
    });
    expect(result.current.history.map((t) => t.event)).toEqual(["task.failed", "task.completed"]);
    expect(result.current.status).toBe("completed");

    await waitFor(() => expect(result.current.result?.task_id).toBe("a"));
    expect(result.current.progress).toBe(100);
    expect(result.current.error).toBeNull();
    const resultCalls = env.fetch.mock.calls.filter(([url]) => url === "/api/tasks/a/result");
    expect(resultCalls).toHaveLength(1);
    expect(resultCalls[0]?.[1]).toMatchObject({ credentials: "same-origin" });
  });

  it("catches up on a terminal event missed while disconnected", async () => {
    setup();
    const { result } = renderLiveHook(() => useOcrProgress("a"), env);
    await waitFor(() => expect(result.current.status).toBe("queued"));
    act(() => env.server.dropAll(1006));
    expect(result.current.connected).toBe(false);
    env.server.emit("task.started", { id: "a", status: "processing" });
    env.server.emit("task.completed", { id: "a", status: "completed", progress: 100 });
    await waitFor(() => expect(result.current.connected).toBe(true), { timeout: 2000 });
    await waitFor(() => expect(result.current.result).not.toBeNull());
    expect(result.current.history.map((t) => t.status)).toEqual(["completed"]);
  });

  it("reports an unknown task as not_found", async () => {
    setup();
    const { result } = renderLiveHook(() => useOcrProgress("nope"), env);
    await waitFor(() => expect(result.current.error?.code).toBe("not_found"));
    expect(result.current.task).toBeNull();
  });

  it("switches tasks with subscribeToTask", async () => {
    setup();
    env.server.emit("task.created", { id: "b", filename: "lab.png" });
    const { result } = renderLiveHook(() => useOcrProgress(null), env);
    expect(result.current.status).toBeNull();
    act(() => result.current.subscribeToTask("b"));
    await waitFor(() => expect(result.current.task?.filename).toBe("lab.png"));
    const subs = env.server.last.sentOfType("subscribe").map((m) => m.topic);
    expect(subs).toContain("task:b");
  });
});

describe("useActiveTasks", () => {
  it("lists tasks from the tasks topic and keeps them live", async () => {
    setup();
    const { result } = renderLiveHook(() => useActiveTasks(), env);
    await waitFor(() => expect(result.current.tasks).toHaveLength(1));
    expect(result.current.connected).toBe(true);
    const before = result.current.tasks;
    act(() => {
      env.server.emit("task.created", { id: "c", status: "queued" });
    });
    expect(result.current.tasks.map((t) => t.id).sort()).toEqual(["a", "c"]);
    expect(result.current.tasks).not.toBe(before);
    act(() => env.server.dropAll(4001));
    expect(result.current.connection.state).toBe("unauthorized");
  });
});
