import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { makeResult } from "../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../test/renderLive";
import { OcrDashboard } from "./OcrDashboard";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

describe("OcrDashboard", () => {
  it("composes header, upload, list, tracker and result viewer", async () => {
    env = createLiveEnv();
    env.server.emit("task.created", { id: "a", filename: "letter.pdf", patient_id: "P-9" });
    env.routes.set("GET /api/tasks/a/result", () => json(200, makeResult("a")));
    const user = userEvent.setup();
    renderLive(<OcrDashboard />, env);

    expect(screen.getByRole("heading", { level: 1, name: "ocrlive" })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("connection-text")).toHaveTextContent("Live"));
    expect(screen.getByRole("heading", { name: "Upload documents" })).toBeInTheDocument();
    expect(screen.getByText("No document selected")).toBeInTheDocument();

    const list = screen.getByRole("list", { name: "Tasks" });
    await user.click(await within(list).findByRole("button", { name: /^Queued, patient P-9, Referral letter, letter.pdf/ }));
    const tracker = await screen.findByRole("region", { name: "letter.pdf" });
    expect(within(tracker).getByText("Waiting in the queue")).toBeInTheDocument();

    act(() => {
      env.server.emit("task.started", { id: "a", status: "processing", stage: "recognizing", pages_total: 1 });
      env.server.emit("task.completed", { id: "a", status: "completed", stage: "done", progress: 100, pages_done: 1 });
    });
    expect(await screen.findByRole("region", { name: "Recognized text" })).toBeInTheDocument();
    expect(screen.getByTestId("announcer")).toHaveTextContent("Text ready: letter.pdf for patient P-9.");
    // One result fetch, shared by the tracker and the viewer.
    expect(env.fetch.mock.calls.filter(([u]) => u === "/api/tasks/a/result")).toHaveLength(1);
  });
});
