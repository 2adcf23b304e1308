import { Profiler, type ProfilerOnRenderCallback } from "react";
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TASK_STATUSES, type Task } from "../api/types";
import { makeTask } from "../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../test/renderLive";
import { ActiveTasksList } from "./ActiveTasksList";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

const TYPES = ["caution_card", "referral_letter", "lab_report", "discharge_summary", "other"];

function seed(n: number): Task[] {
  env = createLiveEnv();
  const tasks: Task[] = [];
  for (let i = 0; i < n; i++) {
    const minute = String(i % 60).padStart(2, "0");
    const hour = String(8 + Math.floor(i / 60) % 10).padStart(2, "0");
    const t = makeTask({
      id: `task-${i}`,
      patient_id: `P-${1000 + (i % 50)}`,
      filename: `scan-${i}.png`,
      document_type: TYPES[i % TYPES.length],
      status: TASK_STATUSES[i % TASK_STATUSES.length],
      progress: (i * 7) % 100,
      created_at: `2026-11-25T${hour}:${minute}:00.000000+00:00`,
      version: i + 1,
    });
    env.server.tasks.set(t.id, t);
    tasks.push(t);
  }
  env.server.seq = n;
  return tasks;
}

function listItems(): NodeListOf<HTMLElement> {
  return document.querySelectorAll<HTMLElement>("ul.task-list > li");
}

function rows(): HTMLElement[] {
  return within(screen.getByRole("list", { name: "Tasks" })).queryAllByRole("listitem");
}

describe("ActiveTasksList", () => {
  it("renders 1000 tasks a page at a time and re-renders only the changed row", async () => {
    seed(1000);
    const commits: { phase: string; actual: number; base: number }[] = [];
    const onRender: ProfilerOnRenderCallback = (_id, phase, actual, base) => {
      commits.push({ phase, actual, base });
    };
    renderLive(
      <Profiler id="list" onRender={onRender}>
        <ActiveTasksList onSelectTask={() => undefined} />
      </Profiler>,
      env,
    );
    // Plain DOM queries here: getByRole walks the accessibility tree, slow on 1000 rows in jsdom.
    await waitFor(() => expect(listItems()).toHaveLength(100));
    expect(screen.getByText("Showing 100 of 1000 tasks")).toBeInTheDocument();
    await userEvent.click(screen.getByText("Show 100 more"));
    expect(listItems()).toHaveLength(200);

    commits.length = 0;
    act(() => env.server.emit("task.progress", { id: "task-1", progress: 77 }));
    const row = document.querySelector('[data-task-id="task-1"] [role="progressbar"]');
    expect(row).toHaveAttribute("aria-valuenow", "77");
    // Memoized rows: the update costs a fraction of rendering the whole list.
    const update = commits.at(-1)!;
    expect(update.phase).toBe("update");
    expect(update.actual).toBeLessThan(update.base / 2);
  });

  it("filters by status, patient ID and document type", async () => {
    seed(50);
    const user = userEvent.setup();
    renderLive(<ActiveTasksList onSelectTask={() => undefined} />, env);
    await screen.findByText("50 tasks");
    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    await waitFor(() => expect(rows()).toHaveLength(10));
    rows().forEach((r) => expect(r).toHaveTextContent("Failed"));
    await user.type(screen.getByLabelText("Patient ID"), "p-1003");
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0]).toHaveTextContent("P-1003");
    await user.clear(screen.getByLabelText("Patient ID"));
    await user.selectOptions(screen.getByLabelText("Status"), "all");
    await user.selectOptions(screen.getByLabelText("Document type"), "lab_report");
    await waitFor(() => expect(rows()).toHaveLength(10));
    rows().forEach((r) => expect(r).toHaveTextContent("Lab report"));
    expect(screen.getByText("10 tasks (50 in total)")).toBeInTheDocument();
  });

  it("sorts by status or by time", async () => {
    seed(10);
    const user = userEvent.setup();
    renderLive(<ActiveTasksList onSelectTask={() => undefined} />, env);
    await screen.findByText("10 tasks");
    const statuses = () => rows().map((r) => r.querySelector(".status__label")?.textContent);
    expect(statuses().slice(0, 2)).toEqual(["Reading", "Reading"]); // status order by default
    expect(statuses().at(-1)).toBe("Done");
    await user.selectOptions(screen.getByLabelText("Sort by"), "oldest");
    expect(rows()[0]).toHaveTextContent("scan-0.png");
    await user.selectOptions(screen.getByLabelText("Sort by"), "newest");
    expect(rows()[0]).toHaveTextContent("scan-9.png");
  });

  it("selects rows by click and keyboard, and marks the selection", async () => {
    seed(3);
    const onSelect = vi.fn();
    const user = userEvent.setup();
    const { rerender } = renderLive(<ActiveTasksList onSelectTask={onSelect} />, env);
    await screen.findByText("3 tasks");
    const buttons = () => rows().map((r) => r.querySelector("button.task-row__main") as HTMLElement);
    await user.click(buttons()[0]!);
    expect(onSelect).toHaveBeenLastCalledWith(rows()[0]!.dataset.taskId);
    buttons()[1]!.focus();
    await user.keyboard("{Enter}");
    expect(onSelect).toHaveBeenLastCalledWith(rows()[1]!.dataset.taskId);
    buttons()[2]!.focus();
    await user.keyboard(" ");
    expect(onSelect).toHaveBeenLastCalledWith(rows()[2]!.dataset.taskId);
    rerender(<ActiveTasksList onSelectTask={onSelect} selectedTaskId="task-1" />);
    const selected = document.querySelector('[data-task-id="task-1"] button.task-row__main');
    expect(selected).toHaveAttribute("aria-current", "true");
  });

  it("cancels a running task from the list", async () => {
    seed(2); // task-0 queued, task-1 processing
    const cancel = vi.fn(() =>
      json(200, { task: { ...env.server.tasks.get("task-1")!, status: "cancelled", version: 500 } }),
    );
    env.routes.set("POST /api/tasks/task-1/cancel", cancel);
    renderLive(<ActiveTasksList onSelectTask={() => undefined} />, env);
    await screen.findByText("2 tasks");
    await userEvent.click(screen.getByRole("button", { name: "Cancel scan-1.png for patient P-1001" }));
    expect(cancel).toHaveBeenCalledTimes(1);
    const row = document.querySelector('[data-task-id="task-1"]') as HTMLElement;
    await waitFor(() => expect(row).toHaveTextContent("Cancelled"));
    expect(within(row).queryByRole("button", { name: /^Cancel scan/ })).not.toBeInTheDocument();
  });
});
