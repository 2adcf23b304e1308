import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeResult } from "../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../test/renderLive";
import { OcrProgressTracker } from "./OcrProgressTracker";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

function setup() {
  env = createLiveEnv();
  env.server.emit("task.created", { id: "a", filename: "letter.pdf", patient_id: "P-7" });
  env.routes.set("GET /api/tasks/a/result", () => json(200, makeResult("a")));
  return env;
}

describe("OcrProgressTracker", () => {
  it("shows the percentage, aria-valuenow and page/stage text", async () => {
    setup();
    renderLive(<OcrProgressTracker taskId="a" title="Referral" />, env);
    expect(await screen.findByText("Waiting in the queue")).toBeInTheDocument();
    act(() => {
      env.server.emit("task.started", { id: "a", status: "processing", stage: "loading", pages_total: 5 });
      env.server.emit("task.progress", { id: "a", progress: 42.5, stage: "recognizing", pages_done: 1 });
    });
    const bar = screen.getByRole("progressbar", { name: "OCR progress for letter.pdf" });
    expect(bar).toHaveAttribute("aria-valuenow", "43");
    expect(bar).toHaveAttribute("aria-valuemin", "0");
    expect(bar).toHaveAttribute("aria-valuemax", "100");
    expect(screen.getByText("43%")).toBeInTheDocument();
    expect(screen.getByText("Page 2 of 5, recognizing text")).toBeInTheDocument();
    expect(screen.getByText("Reading")).toBeInTheDocument(); // status word next to its icon
    expect(screen.getByRole("heading", { name: "Referral" })).toBeInTheDocument();
  });

  it("shows a failure in words and retries through the API", async () => {
    setup();
    const retried = vi.fn(() => json(200, { task: { ...env.server.tasks.get("a")!, status: "queued", error: null, version: 99 } }));
    env.routes.set("POST /api/tasks/a/retry", retried);
    renderLive(<OcrProgressTracker taskId="a" />, env);
    await screen.findByText("Waiting in the queue");
    act(() => {
      env.server.emit("task.failed", {
        id: "a",
        status: "failed",
        stage: "failed",
        error: { code: "unreadable_document", message: "cannot decode" },
      });
    });
    expect(screen.getByRole("alert")).toHaveTextContent("The file is damaged or could not be opened.");
    expect(screen.queryByRole("button", { name: "Cancel" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(retried).toHaveBeenCalledTimes(1);
    expect(retried.mock.calls[0]).toBeDefined();
    await waitFor(() => expect(screen.getByText("Queued")).toBeInTheDocument());
    expect(screen.queryByRole("button", { name: "Retry" })).not.toBeInTheDocument();
  });

  it("shows an action's coded error in words", async () => {
    setup();
    env.routes.set("POST /api/tasks/a/cancel", () =>
      json(409, { error: { code: "invalid_state", message: "task is finished" } }),
    );
    renderLive(<OcrProgressTracker taskId="a" />, env);
    await userEvent.click(await screen.findByRole("button", { name: "Cancel" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("can no longer be changed");
  });

  it("announces completion and calls onComplete once with the result", async () => {
    setup();
    const onComplete = vi.fn();
    renderLive(<OcrProgressTracker taskId="a" onComplete={onComplete} />, env);
    await screen.findByText("Waiting in the queue");
    act(() => {
      env.server.emit("task.completed", { id: "a", status: "completed", progress: 100, pages_total: 1, pages_done: 1 });
    });
    expect(await screen.findByText(/Text recognized: 1 page, average confidence 85%/)).toBeInTheDocument();
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(onComplete.mock.calls[0]?.[0]).toMatchObject({ task_id: "a" });
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  });

  it("says so when the session expired", async () => {
    setup();
    renderLive(<OcrProgressTracker taskId="a" />, env);
    await screen.findByText("Waiting in the queue");
    env.routes.set("POST /api/tasks/a/cancel", () => json(401, { error: { code: "unauthorized", message: "no" } }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Sign in again");
    expect(env.services.client.getSnapshot().connection.state).toBe("unauthorized");
  });

  it("offers to load the text again when the result fetch fails", async () => {
    setup();
    let calls = 0;
    env.routes.set("GET /api/tasks/a/result", () =>
      ++calls === 1 ? json(500, { error: { code: "internal_error", message: "boom" } }) : json(200, makeResult("a")),
    );
    renderLive(<OcrProgressTracker taskId="a" />, env);
    await screen.findByText("Waiting in the queue");
    act(() => {
      env.server.emit("task.completed", { id: "a", status: "completed", progress: 100, pages_total: 1, pages_done: 1 });
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("its text could not be loaded");
    await userEvent.click(screen.getByRole("button", { name: "Load the text again" }));
    expect(await screen.findByText(/Text recognized: 1 page/)).toBeInTheDocument();
    expect(calls).toBe(2);
  });
});
