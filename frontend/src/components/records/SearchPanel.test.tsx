import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SearchResponse } from "../../api/types";
import { makeTask } from "../../test/factories";
import { createLiveEnv, json, renderLive, type LiveEnv } from "../../test/renderLive";
import { OcrDashboard } from "../../pages/OcrDashboard";
import { SearchPanel } from "./SearchPanel";
import { asTyped } from "./useTaskEvents";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

function hits(text: string, word: string): SearchResponse {
  const [before = "", after = ""] = text.split(word);
  const task = makeTask({ id: "a", filename: "card.png", patient_id: "P-1", status: "completed" });
  return {
    hits: [{ task, page: 2, score: 3.2, snippet: [
      { text: before, match: false }, { text: word, match: true }, { text: after, match: false },
    ] }],
    total: 1,
    total_exact: true,
    limit: 10,
    offset: 0,
  };
}

describe("asTyped", () => {
  it("makes the word being typed a prefix, and nothing else", () => {
    expect(asTyped("penic")).toBe("penic*");
    expect(asTyped("allergy penic")).toBe("allergy penic*");
    expect(asTyped("penicillin ")).toBe("penicillin");
    expect(asTyped('"known allergy"')).toBe('"known allergy"');
    expect(asTyped('"known aller')).toBe('"known aller');
    expect(asTyped("warfarin -aspirin")).toBe("warfarin -aspirin");
    expect(asTyped("a")).toBe("a");
  });
});

describe("SearchPanel", () => {
  it("searches once typing pauses, highlights matches, opens the hit, and follows corrections", async () => {
    env = createLiveEnv();
    let answer = hits("Allergy: Penicillin", "Penicillin");
    const search = vi.fn(() => json(200, answer));
    env.routes.set("GET /api/search?q=penic*&offset=0&limit=10", search);
    const onOpen = vi.fn();
    const user = userEvent.setup();
    renderLive(<SearchPanel onOpen={onOpen} onPatient={() => undefined} />, env);
    await user.type(screen.getByRole("searchbox", { name: "Search text" }), "penic");
    const list = await screen.findByRole("list", { name: "Search results" });
    expect(search).toHaveBeenCalledTimes(1); // one request for five keystrokes
    expect(within(list).getByText("Penicillin").tagName).toBe("MARK");
    expect(screen.getByRole("status")).toHaveTextContent("1 pages match penic; showing 1 to 1.");
    await user.click(within(list).getByRole("button", { name: /card.png, page 2/ }));
    expect(onOpen).toHaveBeenCalledWith("a", 2);

    answer = hits("Allergy: Amoxicillin", "Amoxicillin");
    await waitFor(() => expect(env.server.sockets.length).toBeGreaterThan(0));
    act(() => {
      env.server.emit("task.corrected", { id: "a", status: "completed" });
    });
    await waitFor(() => expect(within(list).getByText("Amoxicillin").tagName).toBe("MARK"));
  });

  it("sends the filters and reports a refused query in words", async () => {
    env = createLiveEnv();
    env.routes.set("GET /api/search?q=xx*&patient_id=P-2&document_type=lab_report&offset=0&limit=10", () =>
      json(400, { error: { code: "invalid_request", message: "q must contain at least one word" } }),
    );
    const user = userEvent.setup();
    renderLive(<SearchPanel onOpen={() => undefined} onPatient={() => undefined} />, env);
    await user.type(screen.getByRole("textbox", { name: "Patient ID" }), "P-2");
    await user.selectOptions(screen.getByRole("combobox", { name: "Type" }), "lab_report");
    await user.type(screen.getByRole("searchbox", { name: "Search text" }), "xx");
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("q must contain at least one word"));
  });
});

describe("the dashboard's records", () => {
  it("opens the patient view from a hit and shows a new document for that patient live", async () => {
    env = createLiveEnv();
    env.routes.set("GET /api/search?q=penic*&offset=0&limit=10", () => json(200, hits("Allergy: Penicillin", "Penicillin")));
    env.routes.set("GET /api/review?limit=100", () => json(200, { documents: [], total: 0, threshold: 0.8 }));
    const doc = (id: string, name: string) => ({
      task: makeTask({ id, filename: name, patient_id: "P-1", status: "completed" }),
      first_lines: [`${name} first line`], revision: 1, pending_review: 0,
    });
    let documents = [doc("a", "card.png")];
    env.routes.set("GET /api/patients/P-1/documents?limit=100", () => json(200, { documents, total: documents.length }));
    const user = userEvent.setup();
    renderLive(<OcrDashboard />, env);
    await user.type(screen.getByRole("searchbox", { name: "Search text" }), "penic");
    await user.click(await screen.findByRole("button", { name: "All documents of P-1" }));
    const view = await screen.findByRole("list", { name: "Documents of patient P-1" });
    expect(view).toHaveTextContent("card.png first line");
    documents = [doc("b", "letter.pdf"), ...documents];
    await waitFor(() => expect(env.server.sockets.length).toBeGreaterThan(0));
    act(() => {
      env.server.emit("task.completed", { id: "b", filename: "letter.pdf", patient_id: "P-1", status: "completed" });
    });
    await waitFor(() => expect(within(view).getAllByRole("listitem")).toHaveLength(2));
    expect(within(view).getAllByRole("listitem")[0]).toHaveTextContent("letter.pdf");
    expect(screen.getByText("New text for P-1: letter.pdf.")).toBeInTheDocument();
  });
});
