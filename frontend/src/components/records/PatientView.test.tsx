import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeTask } from "../../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../../test/renderLive";
import { PatientView } from "./PatientView";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

describe("PatientView", () => {
  it("exports the patient's documents that have text as one ZIP in the chosen format", async () => {
    env = createLiveEnv();
    const doc = (id: string, revision: number) => ({
      task: makeTask({ id, filename: `${id}.pdf`, patient_id: "P-1", status: revision ? "completed" : "queued" }),
      first_lines: [], revision, pending_review: 0,
    });
    env.routes.set("GET /api/patients/P-1/documents?limit=100", () =>
      json(200, { documents: [doc("a", 2), doc("b", 0), doc("c", 1)], total: 3 }),
    );
    const sent: unknown[] = [];
    env.routes.set("POST /api/exports", (init) => {
      sent.push(JSON.parse(String(init?.body)));
      return new Response("PK", { status: 200, headers: { "Content-Type": "application/zip" } });
    });
    Object.assign(URL, { createObjectURL: vi.fn(() => "blob:zip"), revokeObjectURL: vi.fn() });
    const names: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download);
    });
    const user = userEvent.setup();
    renderLive(<PatientView patientId="P-1" onOpen={() => undefined} onClose={() => undefined} />, env);
    await user.selectOptions(await screen.findByRole("combobox", { name: "Format" }), "txt");
    await user.click(screen.getByRole("button", { name: "Download all as ZIP" }));
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("Downloaded 2 documents as a ZIP."));
    expect(sent).toEqual([{ task_ids: ["a", "c"], format: "txt" }]);
    expect(names).toEqual(["ocr-P-1-txt.zip"]);
  });
});
