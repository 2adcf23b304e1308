import { describe, expect, it } from "vitest";
import { describeError, describeTaskError } from "./api/errors";
import { validateFile, validatePatientId } from "./components/upload/validate";
import { pageText } from "./format";
import { parseServerMessage } from "./live/protocol";

describe("pageText", () => {
  const t = (status: never, stage: string, done: number, total: number) =>
    pageText({ status, stage, pages_done: done, pages_total: total });
  it("says where reading is", () => {
    expect(t("processing" as never, "recognizing", 1, 5)).toBe("Page 2 of 5, recognizing text");
    expect(t("processing" as never, "detecting", 5, 5)).toBe("Page 5 of 5, finding text");
    expect(t("processing" as never, "loading", 0, 0)).toBe("Opening the document");
    expect(t("completed" as never, "done", 3, 3)).toBe("3 pages read");
    expect(t("queued" as never, "queued", 0, 0)).toBe("Waiting in the queue");
  });
});

describe("error wording", () => {
  it("maps codes to sentences and keeps detail where the code lacks it", () => {
    expect(describeError({ code: "queue_full", message: "", retryAfter: 12 })).toBe(
      "The reading queue is full right now. Please try again in 12 seconds.",
    );
    expect(describeError({ code: "invalid_request", message: "patient_id is missing" })).toMatch(/patient_id is missing/);
    expect(describeError({ code: "brand_new", message: "Server says hi" })).toBe("Server says hi");
    expect(describeTaskError({ code: "too_many_pages", message: "" })).toMatch(/Split it/);
  });
});

describe("validation", () => {
  it("checks patient IDs", () => {
    expect(validatePatientId("   ")).toBe("Enter the patient ID.");
    expect(validatePatientId("P_1-a")).toBeNull();
    expect(validatePatientId("x".repeat(65))).toMatch(/64/);
    expect(validatePatientId("P;1")).toMatch(/only letters/);
    expect(validatePatientId("-P1")).toMatch(/start with a letter or digit/);
    expect(validatePatientId("NHS 943 476 5919")).toBeNull();
  });
  it("checks files by type and size", () => {
    expect(validateFile(new File(["x"], "a.gif", { type: "image/gif" }))).toMatch(/not a PNG/);
    expect(validateFile(new File([], "a.png", { type: "image/png" }))).toMatch(/empty/);
    expect(validateFile(new File(["x"], "a.jpeg", { type: "image/jpeg" }))).toBeNull();
  });
});

describe("parseServerMessage", () => {
  it("drops frames that do not match the protocol", () => {
    expect(parseServerMessage("{")).toBeNull();
    expect(parseServerMessage("[]")).toBeNull();
    expect(parseServerMessage(JSON.stringify({ type: "hello" }))).toBeNull();
    expect(parseServerMessage(JSON.stringify({ type: "event", topic: "tasks", seq: 1, event: "x", task: { id: 1 } }))).toBeNull();
    expect(parseServerMessage(JSON.stringify({ type: "result", id: 3, ok: true, pong: true }))).toEqual({
      type: "result",
      id: 3,
      ok: true,
      pong: true,
    });
  });
});
