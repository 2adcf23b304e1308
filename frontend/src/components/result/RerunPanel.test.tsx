import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import type { RerunSettings } from "../../api/types";
import { makeTask } from "../../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../../test/renderLive";
import { RerunPanel } from "./RerunPanel";
import { RevisionList } from "./RevisionList";
import { describeSettings, emptyForm, settingsFromForm } from "./rerunSettings";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

function panel(completed = true) {
  env = createLiveEnv();
  const sent: unknown[] = [];
  env.routes.set("POST /api/tasks/a/rerun", (init) => {
    sent.push(JSON.parse(String(init?.body)));
    return json(200, { task: makeTask({ id: "a", status: "queued" }) });
  });
  const onRerun = (settings: RerunSettings) => env.services.api.rerun("a", settings);
  renderLive(<RerunPanel completed={completed} revision={1} onRerun={onRerun} />, env);
  return sent;
}

describe("rerunSettings", () => {
  it("sends only the settings chosen, typed as the API takes them", () => {
    const form = { ...emptyForm(), box_threshold: "0.3", orientation: "false", detection_limit: "max" };
    expect(settingsFromForm(form)).toEqual({
      settings: { box_threshold: 0.3, orientation: false, detection_limit: "max" },
      errors: {},
    });
    expect(settingsFromForm(emptyForm()).settings).toEqual({});
  });

  it("names every value out of range before anything is sent", () => {
    const form = { ...emptyForm(), box_threshold: "2", detection_side: "64.5", space_threshold: "x" };
    const { settings, errors } = settingsFromForm(form);
    expect(settings).toEqual({});
    expect(errors.box_threshold).toBe("Box threshold must be a number from 0.05 to 0.95.");
    expect(errors.detection_side).toBe("Detection side (pixels) must be a whole number from 32 to 4000.");
    expect(errors.space_threshold).toMatch(/from 0 to 1/);
  });

  it("describes a reading's settings in words", () => {
    expect(describeSettings({})).toBe("the server's settings");
    expect(describeSettings({ box_threshold: 0.3, orientation: false })).toBe(
      "box threshold 0.3, turn pages upright no",
    );
  });
});

describe("RerunPanel", () => {
  it("queues a re-run with the changed settings, by keyboard, and announces it", async () => {
    const sent = panel();
    const user = userEvent.setup();
    const toggle = screen.getByRole("button", { name: "Re-run OCR…" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    toggle.focus();
    await user.keyboard("{Enter}");
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    await user.type(screen.getByRole("spinbutton", { name: "Box threshold" }), "0.3");
    await user.selectOptions(screen.getByRole("combobox", { name: "Turn pages upright" }), "false");
    await user.click(screen.getByRole("button", { name: "Start re-run" }));
    await waitFor(() =>
      expect(screen.getByRole("status")).toHaveTextContent(
        "Re-run queued with box threshold 0.3, turn pages upright no. Revision 1 stays on screen",
      ),
    );
    expect(sent).toEqual([{ settings: { box_threshold: 0.3, orientation: false } }]);
    expect(screen.queryByRole("button", { name: "Start re-run" })).toBeNull();
    await waitFor(() => expect(toggle).toHaveFocus());
  });

  it("marks a value out of range, focuses it, and sends nothing", async () => {
    const sent = panel();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Re-run OCR…" }));
    const side = screen.getByRole("spinbutton", { name: "Detection side (pixels)" });
    await user.type(side, "9000");
    await user.click(screen.getByRole("button", { name: "Start re-run" }));
    expect(side).toHaveAttribute("aria-invalid", "true");
    expect(side).toHaveAccessibleDescription(/must be a whole number from 32 to 4000/);
    expect(side).toHaveFocus();
    expect(screen.getByRole("alert")).toHaveTextContent("One setting needs fixing.");
    expect(sent).toEqual([]);
  });

  it("shows the server's refusal and keeps the form open", async () => {
    panel();
    env.routes.set("POST /api/tasks/a/rerun", () =>
      json(400, { error: { code: "invalid_settings", message: "box_threshold must be a number from 0.05 to 0.95" } }),
    );
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Re-run OCR…" }));
    await user.click(screen.getByRole("button", { name: "Start re-run" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("box_threshold must be a number");
    expect(screen.getByRole("button", { name: "Start re-run" })).toBeEnabled();
  });

  it("waits for the reading to finish before offering a re-run", () => {
    panel(false);
    expect(screen.getByRole("button", { name: "Re-run OCR…" })).toBeDisabled();
  });

  it("closes on Escape and gives the focus back to its button", async () => {
    const sent = panel();
    const user = userEvent.setup();
    const toggle = screen.getByRole("button", { name: "Re-run OCR…" });
    await user.click(toggle);
    await user.click(screen.getByRole("spinbutton", { name: "Box threshold" }));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("button", { name: "Start re-run" })).toBeNull();
    await waitFor(() => expect(toggle).toHaveFocus());
    expect(sent).toEqual([]);
  });
});

describe("RevisionList", () => {
  it("lists the new revision when it arrives and keeps the replaced one listed", async () => {
    env = createLiveEnv();
    let replaced: object[] = [];
    let revision = 1;
    env.routes.set("GET /api/tasks/a/revisions", () => json(200, { task_id: "a", revision, edits: [], replaced }));
    const { rerender } = renderLive(<RevisionList taskId="a" current={1} settings={{}} />, env);
    const list = screen.getByRole("list", { name: "Revisions of this document" });
    expect(list).toHaveTextContent("Revision 1 (shown): read with the server's settings");
    await waitFor(() => expect(env.fetch).toHaveBeenCalledTimes(1));

    replaced = [{ revision: 1, replaced_at: "2026-11-30T02:00:00+00:00", engine: { settings: {} } }];
    revision = 2;
    rerender(<RevisionList taskId="a" current={2} settings={{ box_threshold: 0.3 }} />);
    await waitFor(() =>
      expect(screen.getByRole("status")).toHaveTextContent(
        "Re-run stored: revision 2 is shown; revision 1 is kept below.",
      ),
    );
    const items = screen.getAllByRole("listitem").map((li) => li.textContent);
    expect(items[0]).toContain("Revision 2 (shown): read with box threshold 0.3");
    expect(items[1]).toContain("Revision 1: read with the server's settings, replaced 2026-11-30 02:00");
    expect(screen.getByRole("link", { name: "Open revision 1 as JSON" })).toHaveAttribute(
      "href",
      "/api/tasks/a/revisions/1",
    );
  });
});
