import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeTask } from "../test/factories";
import { createLiveEnv, renderLive, type LiveEnv } from "../test/renderLive";
import { UploadForm } from "./UploadForm";

let env: LiveEnv;
afterEach(() => env?.services.client.close());

function file(name: string, type: string, size = 1234): File {
  const f = new File(["x"], name, { type });
  Object.defineProperty(f, "size", { value: size });
  return f;
}

function setup(props: Parameters<typeof UploadForm>[0] = {}) {
  env = createLiveEnv();
  const user = userEvent.setup({ applyAccept: false });
  renderLive(<UploadForm {...props} />, env);
  return user;
}

async function fill(user: ReturnType<typeof userEvent.setup>, pid: string, files: File[]) {
  if (pid) await user.type(screen.getByLabelText("Patient ID"), pid);
  if (files.length) await user.upload(screen.getByLabelText(/^Files/), files);
  await user.click(screen.getByRole("button", { name: /^Upload/ }));
}

describe("UploadForm validation", () => {
  it("asks for a patient ID and a file before sending anything", async () => {
    const user = setup();
    await fill(user, "", []);
    expect(screen.getByText("Enter the patient ID.")).toBeInTheDocument();
    expect(screen.getByText("Choose at least one file to upload.")).toBeInTheDocument();
    expect(screen.getByLabelText("Patient ID")).toHaveAttribute("aria-invalid", "true");
    expect(env.xhrs).toHaveLength(0);
  });

  it("rejects a malformed patient ID, wrong types and oversized files", async () => {
    const user = setup();
    const files = [file("notes.docx", "application/msword"), file("huge.pdf", "application/pdf", 60 * 1024 * 1024)];
    await fill(user, "P;12", files);
    expect(screen.getByText(/may contain only letters, digits, spaces/)).toBeInTheDocument();
    expect(screen.getByText("“notes.docx” is not a PNG, JPEG, TIFF or PDF file.")).toBeInTheDocument();
    expect(screen.getByText("“huge.pdf” is larger than 50 MB.")).toBeInTheDocument();
    expect(env.xhrs).toHaveLength(0);
  });

  it("accepts a TIFF the browser reports without a type, and trims the patient ID", async () => {
    const user = setup();
    await fill(user, "  P-12345  ", [file("scan.TIF", "")]);
    expect(env.xhrs).toHaveLength(1);
    expect(env.xhrs[0]!.body?.get("patient_id")).toBe("P-12345");
  });
});

describe("UploadForm sending", () => {
  it("uploads each file with its fields and an Idempotency-Key, then follows OCR", async () => {
    const onUploaded = vi.fn();
    const user = setup({ onUploaded });
    await user.selectOptions(screen.getByLabelText("Document type"), "lab_report");
    await user.click(screen.getByLabelText(/Urgent/));
    await fill(user, "P-1", [file("a.png", "image/png", 1000), file("b.pdf", "application/pdf")]);
    expect(env.xhrs).toHaveLength(2);
    const [x1, x2] = env.xhrs as [typeof env.xhrs[0], typeof env.xhrs[0]];
    expect(x1.method).toBe("POST");
    expect(x1.url).toBe("/api/tasks");
    expect(x1.body?.get("document_type")).toBe("lab_report");
    expect(x1.body?.get("priority")).toBe("urgent");
    expect((x1.body?.get("file") as File).name).toBe("a.png");
    expect(x1.headers["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(x1.headers["Idempotency-Key"]).not.toBe(x2.headers["Idempotency-Key"]);

    act(() => x1.progress(500, 1000));
    const bar = screen.getByRole("progressbar", { name: "Upload of a.png" });
    expect(bar).toHaveAttribute("aria-valuenow", "50");

    const task = makeTask({ id: "new1", filename: "a.png", status: "queued" });
    act(() => x1.respond(202, { task }));
    await waitFor(() => expect(onUploaded).toHaveBeenCalledWith(task));
    expect(await screen.findByRole("progressbar", { name: "Reading a.png" })).toBeInTheDocument();
    expect(env.services.client.getSnapshot().tasks.get("new1")).toEqual(task);
  });

  it("shows the server's coded errors in words", async () => {
    const user = setup();
    await fill(user, "P-1", [file("a.png", "image/png"), file("b.png", "image/png")]);
    const [x1, x2] = env.xhrs as [typeof env.xhrs[0], typeof env.xhrs[0]];
    act(() => x1.respond(413, { error: { code: "file_too_large", message: "over 50 MB" } }));
    act(() => x2.respond(415, { error: { code: "unsupported_type", message: "not an image" } }));
    const alerts = await screen.findAllByRole("alert");
    expect(alerts.map((a) => a.textContent).join(" ")).toMatch(/larger than the server accepts/);
    expect(alerts.map((a) => a.textContent).join(" ")).toMatch(/not a PNG, JPEG, TIFF or PDF document/);
    // Neither is worth retrying with the same file.
    expect(screen.queryByRole("button", { name: "Retry upload" })).not.toBeInTheDocument();
  });

  it("retries a queue_full upload with the same Idempotency-Key", async () => {
    const user = setup();
    await fill(user, "P-1", [file("a.png", "image/png")]);
    const first = env.xhrs[0]!;
    act(() =>
      first.respond(503, { error: { code: "queue_full", message: "queue full" } }, { "Retry-After": "30" }),
    );
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The reading queue is full right now. Please try again in 30 seconds.");
    await user.click(within(alert).getByRole("button", { name: "Retry upload" }));
    expect(env.xhrs).toHaveLength(2);
    expect(env.xhrs[1]!.headers["Idempotency-Key"]).toBe(first.headers["Idempotency-Key"]);
  });

  it("reports an expired session", async () => {
    const user = setup();
    await fill(user, "P-1", [file("a.png", "image/png")]);
    act(() => env.xhrs[0]!.respond(401, { error: { code: "unauthorized", message: "no session" } }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Sign in again");
    expect(env.services.client.getSnapshot().connection.state).toBe("unauthorized");
  });

  it("takes files dropped on the drop zone", async () => {
    setup();
    const dropped = file("drop.jpg", "image/jpeg");
    const zone = screen.getByTestId("dropzone");
    act(() => {
      const ev = new Event("drop", { bubbles: true, cancelable: true });
      Object.defineProperty(ev, "dataTransfer", { value: { files: [dropped] } });
      zone.dispatchEvent(ev);
    });
    expect(screen.getByRole("list", { name: "Chosen files" })).toHaveTextContent("drop.jpg");
  });

  it("keeps picked files although the browser empties the live FileList on reset", () => {
    setup();
    const input = screen.getByLabelText(/^Files/) as HTMLInputElement;
    // Browsers hand over a live FileList that empties when the input's value is reset.
    const live: File[] = [file("a.png", "image/png")];
    Object.defineProperty(input, "files", { configurable: true, get: () => live });
    Object.defineProperty(input, "value", { configurable: true, get: () => "", set: () => live.splice(0) });
    act(() => {
      // A pending update first, so React cannot compute the files update eagerly.
      fireEvent.change(screen.getByLabelText("Patient ID"), { target: { value: "P-1" } });
      fireEvent.change(input);
    });
    expect(screen.getByRole("list", { name: "Chosen files" })).toHaveTextContent("a.png");
  });
});
